import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Connection strings as libpq reads them: checked before any connection is tried, and shown in
/// messages only with their secrets hidden.
///
/// Every message that shows a connection string, or text libpq wrote about one, goes through
/// `redacted(_:)` or `scrub(_:of:)`. Both work on text libpq cannot parse too (a URI with a
/// broken IPv6 host, an unterminated quote), hiding rather too much than too little:
/// - a URI's userinfo password (`scheme://user:SECRET@host`), whatever the scheme, even when the
///   password holds `/`, `?` or `=` that libpq would stop at;
/// - every `?password=` (and `sslpassword=`) query value, keys percent-decoded;
/// - `password=` values of the keyword form, quoted (`password='a b'`) or not, and the words
///   that follow an unquoted one until the next `key=value` (`password=a b` is a typo for a
///   password with a space).
public enum ConnectionString {
    /// Why a connection string is refused; `reason` never holds a secret.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The schemes libpq reads as a URI (exactly: libpq compares them case-sensitively).
    public static let schemes = ["postgresql://", "postgres://"]

    /// Checks that libpq reads `text` as a connection string (`PQconninfoParse`) and that it is
    /// one: key=value pairs or a `postgresql://` URI. Refused: an unknown or misspelt scheme
    /// (libpq would send the whole text, password included, to the server as a database name,
    /// into its log), a bare word (also a database name to libpq), anything libpq cannot parse,
    /// and a port that is not a number. Empty text is libpq's defaults (PG* variables) and passes.
    public static func validate(_ text: String) throws(Malformed) {
        if text.isEmpty { return }
        if text.utf8.contains(0) { throw Malformed(reason: "it holds a NUL character") }
        let isURI = schemes.contains { text.hasPrefix($0) }
        if !isURI, let scheme = schemeLike(text) {
            let lower = scheme.lowercased()
            guard lower == "postgresql" || lower == "postgres" else {
                throw Malformed(
                    reason: "unknown scheme \"\(scheme):\": a connection URI begins with postgresql:// or postgres://; or give key=value pairs")
            }
            throw Malformed(
                reason: scheme != lower
                    ? "write the scheme in lowercase: a connection URI begins with postgresql:// or postgres://"
                    : "a connection URI begins with postgresql:// or postgres:// (two slashes)")
        }
        if !isURI, !text.contains("=") {
            throw Malformed(
                reason: "it is neither key=value pairs (host=… dbname=… user=…) nor a URI beginning with postgresql://")
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &errorMessage) else {
            let libpq = errorMessage.map { String(cString: $0) } ?? "libpq cannot parse it"
            if let errorMessage { PQfreemem(errorMessage) }
            throw Malformed(reason: scrubParseError(libpq, of: text))
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "port", let value = option.pointee.val {
                let ports = String(cString: value).split(separator: ",", omittingEmptySubsequences: false)
                for port in ports where !port.isEmpty {
                    guard port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port), (1...65535).contains(number) else {
                        throw Malformed(
                            reason: "a port is not a number from 1 to 65535 (a password holding \"/\" must be percent-encoded as %2F)")
                    }
                }
            }
            option += 1
        }
    }

    /// `text` with every secret replaced by `***`; the rest as written.
    public static func redacted(_ text: String) -> String { redact(text).text }

    /// `message` (typically libpq's, about `connectionString`) with `connectionString` itself
    /// redacted and every secret of it (as written, percent-decoded or unescaped) and every
    /// `extra` secret replaced by `***`.
    public static func scrub(_ message: String, of connectionString: String, extra: [String] = []) -> String {
        var secrets = redact(connectionString).secrets + extra
        secrets += parsedSecrets(connectionString)
        var text = message
        if !connectionString.isEmpty, text.contains(connectionString) {
            text = text.replacingAll(connectionString, with: redacted(connectionString))
        }
        // A secret of one or two characters is not hunted for: replacing every "a" would garble
        // the message, and libpq does not quote passwords in what it says after connecting.
        for secret in Set(secrets).sorted(by: { $0.count > $1.count }) where secret.count >= 3 {
            text = text.replacingAll(secret, with: "***")
        }
        return text
    }

    // MARK: Redaction

    struct Redaction {
        var text: String
        /// The texts hidden (as written, and decoded), for scrubbing messages.
        var secrets: [String]
    }

    static func redact(_ text: String) -> Redaction {
        if let scheme = schemeLike(text) { return redactURI(text, schemeLength: scheme.count) }
        return redactKeywords(text)
    }

    /// The scheme of text that looks like a URI (`word:/`), whatever the word.
    static func schemeLike(_ text: String) -> String? {
        guard let colon = text.firstIndex(of: ":"), colon > text.startIndex else { return nil }
        let scheme = text[..<colon]
        guard let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }),
            text[text.index(after: colon)...].hasPrefix("/")
        else { return nil }
        return String(scheme)
    }

    static func redactURI(_ text: String, schemeLength: Int) -> Redaction {
        var secrets: [String] = []
        var authority = text.index(text.startIndex, offsetBy: schemeLength + 1)
        while authority < text.endIndex, text[authority] == "/" { authority = text.index(after: authority) }
        let rest = text[authority...]
        // The userinfo ends at the last "@" before the query; when every "@" is after a "?",
        // the password may hold the "?" (libpq looks for "@" first): the last "@" then.
        let query = rest.firstIndex(of: "?") ?? rest.endIndex
        let at = rest[..<query].lastIndex(of: "@") ?? rest.lastIndex(of: "@")
        var output = String(text[..<authority])
        var queryFrom = authority
        if let at {
            let userinfo = rest[..<at]
            if let colon = userinfo.firstIndex(of: ":"), userinfo.index(after: colon) < at {
                let secret = String(userinfo[userinfo.index(after: colon)...])
                secrets += variants(of: secret)
                output += userinfo[...colon] + "***"
            } else {
                output += userinfo
            }
            queryFrom = at
        }
        guard let mark = text[queryFrom...].firstIndex(of: "?") else {
            output += text[queryFrom...]
            return Redaction(text: output, secrets: secrets)
        }
        output += text[queryFrom...mark]
        let parameters = text[text.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false)
        output += parameters.map { parameter -> String in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            let key = percentDecoded(parameter[..<equals]) ?? String(parameter[..<equals])
            let value = parameter[parameter.index(after: equals)...]
            guard isSecretKeyword(key) else {
                return String(parameter)
            }
            if !value.isEmpty { secrets += variants(of: String(value)) }
            return parameter[..<equals] + "=***"
        }.joined(separator: "&")
        return Redaction(text: output, secrets: secrets)
    }

    static func redactKeywords(_ text: String) -> Redaction {
        let characters = Array(text)
        var output = ""
        var secrets: [String] = []
        var index = 0
        /// After an unquoted password: words without "=" continue it (`password=a b`).
        var inSecret = false
        func isSpace(_ character: Character) -> Bool { character.isWhitespace }
        while index < characters.count {
            while index < characters.count, isSpace(characters[index]) {
                output.append(characters[index])
                index += 1
            }
            guard index < characters.count else { break }
            let keyStart = index
            while index < characters.count, !isSpace(characters[index]), characters[index] != "=" { index += 1 }
            let key = String(characters[keyStart..<index])
            var look = index
            while look < characters.count, isSpace(characters[look]) { look += 1 }
            guard look < characters.count, characters[look] == "=" else {
                // A word with no "=": a continuation of a password, or a mangled URI.
                if inSecret {
                    secrets += variants(of: key)
                    output += "***"
                } else if key.contains("@") {
                    let hidden = redactURI("x:/" + key, schemeLength: 1)
                    secrets += hidden.secrets
                    output += hidden.text.dropFirst(3)
                } else {
                    output += key
                }
                continue
            }
            output += key + String(characters[index...look])
            index = look + 1
            while index < characters.count, isSpace(characters[index]) {
                output.append(characters[index])
                index += 1
            }
            // The value: quoted (to the closing quote, or the end), or to the next space;
            // a backslash escapes the next character.
            var raw = ""
            var value = ""
            let quoted = index < characters.count && characters[index] == "'"
            if quoted {
                raw.append("'")
                index += 1
            }
            while index < characters.count {
                let character = characters[index]
                if quoted, character == "'" {
                    raw.append(character)
                    index += 1
                    break
                }
                if !quoted, isSpace(character) { break }
                raw.append(character)
                index += 1
                if character == "\\", index < characters.count {
                    raw.append(characters[index])
                    value.append(characters[index])
                    index += 1
                } else {
                    value.append(character)
                }
            }
            if isSecretKeyword(key) {
                if !value.isEmpty { secrets += [raw] + variants(of: value) }
                output += "***"
                inSecret = !quoted
            } else {
                inSecret = false
                if raw.contains("@"), schemeLike(value) != nil {
                    let hidden = redactURI(value, schemeLength: schemeLike(value)!.count)
                    secrets += hidden.secrets
                    output += hidden.secrets.isEmpty ? raw : (quoted ? "'" + hidden.text + "'" : hidden.text)
                } else {
                    output += raw
                }
            }
        }
        return Redaction(text: output, secrets: secrets)
    }

    /// `password`, `sslpassword` and any other keyword naming a password.
    static func isSecretKeyword(_ key: String) -> Bool {
        key.lowercased().contains("password")
    }

    /// A secret as written and percent-decoded (how libpq may quote it back).
    static func variants(of secret: String) -> [String] {
        var list = [secret]
        if let decoded = percentDecoded(Substring(secret)), decoded != secret { list.append(decoded) }
        return list
    }

    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard iterator.count >= 2,
                    let high = hexValue(iterator[iterator.startIndex]), let low = hexValue(iterator[iterator.startIndex + 1])
                else { return nil }
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The values of password fields as libpq parses them (decoded), when it can.
    static func parsedSecrets(_ text: String) -> [String] {
        guard !text.isEmpty, schemes.contains(where: { text.hasPrefix($0) }) || text.contains("=") else { return [] }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return []
        }
        defer { PQconninfoFree(options) }
        var secrets: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let hidden = option.pointee.dispchar.map { String(cString: $0) == "*" } ?? false
            if hidden || isSecretKeyword(String(cString: keyword)), let value = option.pointee.val {
                secrets.append(String(cString: value))
            }
            option += 1
        }
        return secrets
    }

    /// libpq's reason for refusing `text`, with no part of `text` but keywords: libpq quotes
    /// what it could not read ("invalid percent-encoded token: "SECRET"", "missing "=" after
    /// "WORD"", the whole URI), and any of that may be a password. A quoted whole text comes
    /// back redacted; a quoted keyword (an unknown option) stays; anything else quoted becomes "…".
    static func scrubParseError(_ message: String, of text: String) -> String {
        var line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? "libpq cannot parse it"
        let whole = "\u{1}"
        line = line.replacingAll("\"" + text + "\"", with: whole)
        let keepsKeyword = ["invalid connection option", "invalid URI query parameter", "extra key/value separator"]
            .contains { line.hasPrefix($0) }
        var output = ""
        var rest = Substring(line)
        while let open = rest.firstIndex(of: "\"") {
            output += rest[..<open]
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: "\"") else {
                output += "\"…"
                rest = rest[rest.endIndex...]
                break
            }
            let quoted = rest[afterOpen..<close]
            let punctuation = quoted.count <= 2 && quoted.allSatisfy { $0.isASCII && !$0.isLetter && !$0.isNumber }
            let keyword = keepsKeyword && !quoted.isEmpty && quoted.count <= 63
                && quoted.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "_") }
            output += "\"" + (punctuation || keyword ? String(quoted) : "…") + "\""
            rest = rest[rest.index(after: close)...]
        }
        output += rest
        output = output.replacingAll(whole, with: "\"" + redacted(text) + "\"")
        // Whatever slipped through (a quote inside the text misleads the pairing above): no secret.
        let secrets = redact(text).secrets.filter { $0.count >= 3 }
        if secrets.contains(where: { output.replacingAll(redacted(text), with: "").contains($0) }) {
            return "libpq cannot parse it"
        }
        return output
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this target).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var output = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            output += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return output + rest
    }
}
