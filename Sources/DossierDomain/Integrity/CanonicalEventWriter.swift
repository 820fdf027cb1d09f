import Crypto
import Foundation

/// The leaf hash of an event written straight from the texts of its stored row (as PostgreSQL
/// returns them), without making a `RecordedEvent` or a JSON tree: the fast path of `verify` and
/// `checkpoint`. The bytes hashed are exactly those of `CanonicalEvent.encode` (version 1,
/// docs/INTEGRITY.md §1).
///
/// Like `CanonicalJSONText`, it only takes on what it can write the same way as the one defined
/// encoding, and answers nil otherwise (text that is not well-formed UTF-8, an effective date
/// `CalendarDate` refuses, a payload the JSON fast path does not take): the caller then decodes
/// the row into a `RecordedEvent` and encodes that, which also throws where decoding throws.
/// One writer serves one thread; it keeps its buffers from event to event.
public struct CanonicalEventWriter {
    /// 0x00 || the canonical bytes of the last event written.
    private var buffer: [UInt8] = []
    private var payload = CanonicalJSONText()

    public init() {
        buffer.reserveCapacity(4096)
    }

    /// The leaf hash, SHA-256(0x00 || canonical bytes), of the event with these column values;
    /// nil when the fast path does not take it on.
    public mutating func leafHash(
        position: Int64, stream: UnsafeBufferPointer<UInt8>, version: Int32, eventID: UUID, type: UnsafeBufferPointer<UInt8>,
        schemaVersion: Int32, payload payloadText: UnsafeBufferPointer<UInt8>, effective: UnsafeBufferPointer<UInt8>,
        recordedAt: Int64, recordedBy: UnsafeBufferPointer<UInt8>, authority: UnsafeBufferPointer<UInt8>,
        reference: UnsafeBufferPointer<UInt8>
    ) -> MerkleHash? {
        guard UTF8Check.isValid(stream), UTF8Check.isValid(type), UTF8Check.isValid(recordedBy), UTF8Check.isValid(authority),
            UTF8Check.isValid(reference), Self.isSupportedDate(effective)
        else { return nil }
        buffer.removeAll(keepingCapacity: true)
        buffer.append(0x00)
        buffer.append(contentsOf: CanonicalEvent.magic)
        integerField(1, position)
        textField(2, stream)
        integerField(3, UInt32(bitPattern: version))
        var uuid = eventID.uuid
        withUnsafeBytes(of: &uuid) { bytes in
            header(4, 16)
            buffer.append(contentsOf: bytes)
        }
        textField(5, type)
        integerField(6, UInt16(truncatingIfNeeded: schemaVersion))
        // The payload's length is known once it is written: a placeholder, filled in after.
        buffer.append(7)
        let lengthAt = buffer.count
        buffer.append(contentsOf: [0, 0, 0, 0])
        guard payload.appendObject(payloadText, to: &buffer) else { return nil }
        let length = UInt32(buffer.count - lengthAt - 4)
        buffer[lengthAt] = UInt8(truncatingIfNeeded: length >> 24)
        buffer[lengthAt + 1] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[lengthAt + 2] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[lengthAt + 3] = UInt8(truncatingIfNeeded: length)
        textField(8, effective)
        integerField(9, recordedAt)
        textField(10, recordedBy)
        textField(11, authority)
        textField(12, reference)
        return buffer.withUnsafeBytes { MerkleHash(SHA256.hash(data: $0)) }
    }

    @inline(__always)
    private mutating func header(_ tag: UInt8, _ length: Int) {
        buffer.append(tag)
        CanonicalEvent.appendBigEndian(UInt32(truncatingIfNeeded: length), into: &buffer)
    }

    @inline(__always)
    private mutating func textField(_ tag: UInt8, _ bytes: UnsafeBufferPointer<UInt8>) {
        header(tag, bytes.count)
        buffer.append(contentsOf: bytes)
    }

    @inline(__always)
    private mutating func integerField<T: FixedWidthInteger>(_ tag: UInt8, _ value: T) {
        header(tag, MemoryLayout<T>.size)
        CanonicalEvent.appendBigEndian(value, into: &buffer)
    }

    /// `YYYY-MM-DD` in digits, a real date in `CalendarDate.supportedYears`: then the text is
    /// exactly what `CalendarDate.description` writes for it.
    static func isSupportedDate(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard text.count == 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-") else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = text[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return false }
        return CalendarDate(year: year, month: month, day: day) != nil
    }
}
