import Foundation

/// The canonical byte encoding of an event: what the Merkle tree's leaves hash.
///
/// Version 1 (documented in docs/INTEGRITY.md):
///
///     "DOSSIER-EVENT" 0x00 0x01                  magic and version
///     then twelve fields, each: tag (1 byte) || length (4 bytes, big-endian) || bytes
///       1 position         8 bytes, big-endian two's complement
///       2 stream           UTF-8
///       3 version          4 bytes, big-endian
///       4 event id         16 bytes (the UUID's bytes in order)
///       5 type             UTF-8
///       6 schema version   2 bytes, big-endian
///       7 payload          canonical JSON, UTF-8 (see JSONValue.canonicalText)
///       8 effective        10 ASCII bytes, YYYY-MM-DD
///       9 recorded at      8 bytes, big-endian: microseconds since 1970-01-01T00:00:00Z
///      10 recorded by      UTF-8
///      11 authority        UTF-8
///      12 reference        UTF-8
///
/// The payload's canonical JSON sorts object members by their keys' UTF-8 bytes and has no
/// whitespace, so the encoding does not depend on how the database stores JSON.
public enum CanonicalEvent {
    public static let magic: [UInt8] = Array("DOSSIER-EVENT".utf8) + [0x00, 0x01]

    /// The canonical bytes of an event.
    public static func encode(_ event: RecordedEvent) -> [UInt8] {
        var out = magic
        out.reserveCapacity(256 + event.payload.count * 24)
        func field(_ tag: UInt8, _ bytes: [UInt8]) {
            out.append(tag)
            appendBigEndian(UInt32(bytes.count), into: &out)
            out.append(contentsOf: bytes)
        }
        func integer<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            var bytes: [UInt8] = []
            appendBigEndian(value, into: &bytes)
            return bytes
        }
        field(1, integer(event.position))
        field(2, Array(event.stream.rawValue.utf8))
        field(3, integer(UInt32(truncatingIfNeeded: event.version)))
        field(4, withUnsafeBytes(of: event.eventID.uuid) { Array($0) })
        field(5, Array(event.type.utf8))
        field(6, integer(UInt16(truncatingIfNeeded: event.schemaVersion)))
        var payload: [UInt8] = []
        JSONValue.object(event.payload).writeCanonical(into: &payload)
        field(7, payload)
        field(8, Array(event.effective.description.utf8))
        field(9, integer(event.recordedAt.microsecondsSinceEpoch))
        field(10, Array(event.recordedBy.utf8))
        field(11, Array(event.authority.utf8))
        field(12, Array(event.reference.utf8))
        return out
    }

    /// The leaf hash of an event: SHA-256(0x00 || canonical bytes).
    public static func leafHash(_ event: RecordedEvent) -> MerkleHash {
        Merkle.leafHash(encode(event))
    }

    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, into out: inout [UInt8]) {
        let big = value.bigEndian
        withUnsafeBytes(of: big) { out.append(contentsOf: $0) }
    }
}

extension Data {
    /// Decodes base64 only in its canonical form: the text must be exactly what encoding the
    /// decoded bytes gives back (no stray padding bits, no whitespace), so no two texts stand
    /// for the same bytes.
    public init?(canonicalBase64 text: String) {
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
        self = data
    }
}
