import DossierDomain
import DossierStore
import Foundation
import Histogram
import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// One keep-alive HTTP/1.1 connection to `dossier serve` on loopback, blocking: each bench client
/// is a thread with its own connection, as a script or a browser tab would be.
final class HTTPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Sends a request and reads the whole response (bodies carry Content-Length).
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> (status: Int, body: [UInt8]) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("send failed") }
            sent += n
        }
        // Head.
        var end: Int?
        while end == nil {
            end = find([13, 10, 13, 10])
            if end == nil { try fill() }
        }
        let headText = String(decoding: buffer[..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        let lines = headText.split(separator: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { throw BenchError("bad response") }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "content-length" ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }.first ?? 0
        while buffer.count < length { try fill() }
        let responseBody = Array(buffer[..<length])
        buffer.removeFirst(length)
        return (status, responseBody)
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for index in 0...(buffer.count - pattern.count) where buffer[index] == pattern[0] && Array(buffer[index..<index + pattern.count]) == pattern {
            return index
        }
        return nil
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchError("the server closed the connection") }
        buffer.append(contentsOf: chunk[..<n])
    }
}

extension Bench {
    /// `dossier serve` on the bench ledger, with a bench admin and a token; stopped by SIGTERM.
    func startServer(url: String, environment: [String: String]) throws -> (process: Process, port: Int, token: String) {
        let admin = try PostgresConnection(connectionString: url)
        let person = "bench_http_" + UUID().uuidString.prefix(6).lowercased()
        try People.add(admin, name: person, role: .admin, jurisdictions: [], password: "bench password 1", authority: "bench", reference: nil)
        // A token is issued only to its own person.
        let asPerson = try PostgresConnection(connectionString: url, user: person, password: "bench password 1")
        let token = try People.issueToken(asPerson, person: person, authority: "bench", reference: nil).token.text
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(probe)
        let process = Process()
        process.executableURL = URL(filePath: bin + "/dossier")
        process.arguments = ["serve", "--listen", "127.0.0.1:\(port)", "--connections", "8"]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if let connection = try? HTTPConnection(port: port), (try? connection.request("GET", "/healthz"))?.status == 200 {
                return (process, port, token)
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.terminate()
        throw BenchError("dossier serve did not start")
    }

    /// Decisions recorded through POST /api/decisions, each client on its own connection.
    func httpSingles(port: Int, token: String, clients: Int, workers: [String]) throws -> Rate {
        try threads(clients) { client, deadline, record in
            let connection = try HTTPConnection(port: port)
            var counter = 0
            var generator = SystemRandomNumberGenerator()
            while Date() < deadline {
                counter += 1
                let worker = workers[Int.random(in: 0..<workers.count, using: &generator)]
                let body = #"{"decision":"training","worker":"\#(worker)","kind":"special","hours":2,"effective":"2026-01-15","authority":"bench","reference":"H-\#(client)-\#(counter)-\#(UUID().uuidString.prefix(8))"}"#
                let start = DispatchTime.now().uptimeNanoseconds
                let response = try connection.request(
                    "POST", "/api/decisions", headers: [("Authorization", "Bearer " + token), ("Content-Type", "application/json")],
                    body: Array(body.utf8))
                guard response.status == 201 else {
                    throw BenchError("POST /api/decisions answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
                }
                record(DispatchTime.now().uptimeNanoseconds - start)
            }
        }
    }

    /// GET /api/workers/{id} and …/trace for random workers, one connection.
    func httpReads(port: Int, token: String, workers: [String]) throws -> (show: Rate, trace: Rate) {
        let connection = try HTTPConnection(port: port)
        var show = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var trace = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let headers = [("Authorization", "Bearer " + token)]
        for _ in 0..<2000 {
            let worker = workers.randomElement()!
            var start = DispatchTime.now().uptimeNanoseconds
            guard try connection.request("GET", "/api/workers/\(worker)", headers: headers).status == 200 else { throw BenchError("show failed") }
            _ = show.record(DispatchTime.now().uptimeNanoseconds - start)
            start = DispatchTime.now().uptimeNanoseconds
            guard try connection.request("GET", "/api/workers/\(worker)/trace", headers: headers).status == 200 else { throw BenchError("trace failed") }
            _ = trace.record(DispatchTime.now().uptimeNanoseconds - start)
        }
        return (Rate(latencies: show), Rate(latencies: trace))
    }
}
