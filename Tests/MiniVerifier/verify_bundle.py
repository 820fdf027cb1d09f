#!/usr/bin/env python3
"""An independent verifier of Dossier evidence bundles, written from docs/INTEGRITY.md alone.

It shares no code with Dossier: Python's standard library only, Ed25519 verification from the
formulas of RFC 8032 section 5.1.7, RFC 6962 trees as RFC 9162 section 2.1 checks them. The test
suite runs it on a bundle Dossier exported and on altered copies (tools/test, CLI tests).

    verify_bundle.py BUNDLE [--public-key FILE]

Exit 0 and one line "OK <events> events, complete" when the bundle verifies; exit 1 and
"REFUSED: <why>" when it does not.
"""
import base64
import binascii
import hashlib
import json
import re
import sys


class Refused(Exception):
    pass


# ---- Ed25519 (RFC 8032 section 5.1), verification only -------------------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    # Extended homogeneous coordinates (X, Y, Z, T), RFC 8032 section 5.1.4.
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _multiply(scalar, point):
    result = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a, b):
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def _decode_point(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        if (v * x * x + u) % P != 0:
            return None
        x = x * SQRT_M1 % P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
BASE = _decode_point(_GY.to_bytes(32, "little"))


def ed25519_verify(public, message, signature):
    if len(signature) != 64:
        return False
    a = _decode_point(public)
    r = _decode_point(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return _equal(_multiply(s, BASE), _add(r, _multiply(k, a)))


# ---- RFC 6962 / RFC 9162 ---------------------------------------------------------------------
def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, proof, root):
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, old_root, new_root, proof):
    if m < 1 or m > n:
        return False
    if m == n:
        return not proof and old_root == new_root
    if not proof:
        return False
    if m & (m - 1) == 0:
        proof = [old_root] + list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# ---- encodings (docs/INTEGRITY.md sections 1 and 2) -----------------------------------------
def canonical_json(value):
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if value is None:
        return b"null"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        out = bytearray(b'"')
        for ch in value:
            code = ord(ch)
            if ch == '"':
                out += b'\\"'
            elif ch == "\\":
                out += b"\\\\"
            elif code < 0x20:
                out += {8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t"}.get(code, b"\\u%04x" % code)
            else:
                out += ch.encode("utf-8")
        return bytes(out + b'"')
    if isinstance(value, list):
        return b"[" + b",".join(canonical_json(v) for v in value) + b"]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-8"))
        return b"{" + b",".join(canonical_json(k) + b":" + canonical_json(value[k]) for k in keys) + b"}"
    raise Refused("a payload holds a number that is not an integer")


def tlv(tag, data):
    return bytes([tag]) + len(data).to_bytes(4, "big") + data


RECORDED_AT = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z$")
DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")


def real_date(y, m, d):
    if not 1 <= m <= 12 or d < 1:
        return False
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return d <= [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def days_from_civil(y, m, d):
    # Days since 1970-01-01 in the proleptic Gregorian calendar.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def microseconds(text):
    match = RECORDED_AT.match(text)
    if not match:
        raise Refused("recordedAt %r is not YYYY-MM-DDTHH:MM:SS.ffffffZ" % text[:40])
    y, mo, d, h, mi, s, f = (int(g) for g in match.groups())
    if not real_date(y, mo, d) or h > 23 or mi > 59 or s > 59:
        raise Refused("recordedAt %r is not a real instant" % text[:40])
    return ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000) + f


def integer(obj, key, low, high):
    value = obj.get(key)
    if type(value) is not int or not low <= value <= high:
        raise Refused("%s is not an integer from %d to %d" % (key, low, high))
    return value


def text(obj, key):
    value = obj.get(key)
    if not isinstance(value, str):
        raise Refused("%s is not text" % key)
    return value


def event_bytes(e):
    if not UUID.match(text(e, "eventId")):
        raise Refused("eventId is not a lowercase uuid")
    date = DATE.match(text(e, "effective"))
    if not date or not real_date(*(int(g) for g in date.groups())):
        raise Refused("effective is not a real date written YYYY-MM-DD")
    if not isinstance(e.get("payload"), dict):
        raise Refused("payload is not an object")
    out = b"DOSSIER-EVENT\x00\x01"
    out += tlv(1, integer(e, "position", 1, 2**63 - 1).to_bytes(8, "big", signed=True))
    out += tlv(2, text(e, "stream").encode())
    out += tlv(3, integer(e, "version", 1, 2**31 - 1).to_bytes(4, "big"))
    out += tlv(4, binascii.unhexlify(e["eventId"].replace("-", "")))
    out += tlv(5, text(e, "type").encode())
    out += tlv(6, integer(e, "schemaVersion", 1, 65535).to_bytes(2, "big"))
    out += tlv(7, canonical_json(e["payload"]))
    out += tlv(8, e["effective"].encode())
    out += tlv(9, microseconds(text(e, "recordedAt")).to_bytes(8, "big", signed=True))
    out += tlv(10, text(e, "recordedBy").encode())
    out += tlv(11, text(e, "authority").encode())
    out += tlv(12, text(e, "reference").encode())
    return out


def head_bytes(stream, version, leaf):
    return b"DOSSIER-HEAD\x00\x01" + tlv(1, stream.encode()) + tlv(2, version.to_bytes(4, "big")) + tlv(3, leaf.to_bytes(8, "big"))


def b64(value, length=None):
    if not isinstance(value, str):
        raise Refused("a hash is not base64 text")
    try:
        data = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise Refused("%r is not base64" % value[:20])
    if base64.b64encode(data).decode() != value or (length is not None and len(data) != length):
        raise Refused("%r is not canonical base64 of %s bytes" % (value[:20], length))
    return data


def hashes(value):
    if not isinstance(value, list) or len(value) > 64:
        raise Refused("a proof is not a list of at most 64 hashes")
    return [b64(h, 32) for h in value]


# ---- keys and notes (section 3) -------------------------------------------------------------
def parse_key(key_text):
    # The base64 part may itself hold "+": split at the first two only.
    parts = key_text.strip().split("+", 2)
    if len(parts) != 3:
        raise Refused("the public key is not name+keyid+base64")
    name, key_id, blob = parts
    raw = b64(blob, 33)
    if raw[0] != 1:
        raise Refused("the public key is not an Ed25519 key")
    expected = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    if key_id != expected.hex():
        raise Refused("the public key's id does not match its key")
    return name, expected, raw[1:]


def verify_note(note, key):
    name, key_id, public = key
    if not note.endswith("\n") or "\n\n" not in note:
        raise Refused("the checkpoint is not a signed note")
    body, signatures = note.split("\n\n", 1)
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) not in (4, 5):
        raise Refused("the checkpoint does not have the documented lines")
    origin, size_text, root_text = lines[:3]
    if not origin or not re.match(r"^(0|[1-9][0-9]*)$", size_text):
        raise Refused("the checkpoint's origin or size is malformed")
    heads = None
    if len(lines) == 5:
        match = re.match(r"^heads ([1-9][0-9]*) (\S+)$", lines[3])
        if not match:
            raise Refused("the checkpoint's heads line is malformed")
        heads = (int(match.group(1)), b64(match.group(2), 32))
    if not lines[-1].startswith("time ") or not RECORDED_AT.match(lines[-1][5:]):
        raise Refused("the checkpoint's time line is malformed")
    verified = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Refused("a signature line does not start with an em dash")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise Refused("a signature line is malformed")
        if parts[0] != name:
            continue  # another signer's line (a witness): not ours to read
        blob = b64(parts[1], 68)
        if blob[:4] != key_id:
            continue
        if not ed25519_verify(public, body.encode(), blob[4:]):
            raise Refused("the checkpoint's signature does not verify")
        verified = True
    if not verified:
        raise Refused("the checkpoint carries no signature by the key")
    return origin, int(size_text), b64(root_text, 32), heads


# ---- the bundle (section 6) -----------------------------------------------------------------
def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Refused("a JSON object has a duplicated member")
    return dict(pairs)


def exactly(obj, keys, what):
    if not isinstance(obj, dict) or set(obj) != set(keys):
        raise Refused("%s does not have exactly the members %s" % (what, sorted(keys)))


def not_an_integer(literal):
    raise Refused("the number %s is not an integer" % literal[:20])


def verify_bundle(data, pinned=None):
    try:
        bundle = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates,
                            parse_float=not_an_integer, parse_constant=not_an_integer)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Refused("not JSON: %s" % error)
    exactly(bundle, ["format", "stream", "checkpoint", "publicKey", "events", "head", "consistency", "personal"], "the bundle")
    if bundle["format"] != "dossier-bundle/2":
        raise Refused("the format is not dossier-bundle/2")
    key = parse_key(text(bundle, "publicKey"))
    if pinned is not None and key != pinned:
        raise Refused("the bundle is not signed by the pinned key")
    origin, size, root, heads = verify_note(text(bundle, "checkpoint"), key)
    if heads is None:
        raise Refused("the checkpoint signs no stream heads")
    stream = text(bundle, "stream")
    events = bundle["events"]
    if not isinstance(events, list) or not events:
        raise Refused("no events")
    last_leaf = -1
    ids = {}
    for number, e in enumerate(events, 1):
        exactly(e, ["position", "stream", "version", "eventId", "type", "schemaVersion", "payload", "effective",
                    "recordedAt", "recordedBy", "authority", "reference", "leafIndex", "proof"], "event %d" % number)
        if e["stream"] != stream or e["version"] != number:
            raise Refused("event %d is not version %d of %s" % (number, number, stream))
        leaf = integer(e, "leafIndex", 0, size - 1)
        if leaf <= last_leaf:
            raise Refused("event %d's leaf index is out of order" % number)
        last_leaf = leaf
        if not verify_inclusion(leaf, size, leaf_hash(event_bytes(e)), hashes(e["proof"]), root):
            raise Refused("event %d is not in the signed tree" % number)
        ids[e["eventId"]] = e
    exactly(bundle["head"], ["index", "proof"], "the head")
    index = integer(bundle["head"], "index", 0, heads[0] - 1)
    head = leaf_hash(head_bytes(stream, len(events), last_leaf))
    if not verify_inclusion(index, heads[0], head, hashes(bundle["head"]["proof"]), heads[1]):
        raise Refused("the record is incomplete: the checkpoint does not sign version %d as its head" % len(events))
    if not isinstance(bundle["consistency"], list):
        raise Refused("consistency is not a list")
    for number, link in enumerate(bundle["consistency"], 1):
        exactly(link, ["checkpoint", "proof"], "consistency entry %d" % number)
        old_origin, m, old_root, _ = verify_note(text(link, "checkpoint"), key)
        if old_origin != origin or not verify_consistency(m, size, old_root, root, hashes(link["proof"])):
            raise Refused("consistency entry %d does not verify" % number)
    if not isinstance(bundle["personal"], list):
        raise Refused("personal is not a list")
    opened = set()
    for number, entry in enumerate(bundle["personal"], 1):
        exactly(entry, ["eventId", "fields", "salt"], "personal entry %d" % number)
        event = ids.get(entry["eventId"])
        if event is None or entry["eventId"] in opened or not isinstance(entry["fields"], dict):
            raise Refused("personal entry %d opens no new commitment of the record" % number)
        opened.add(entry["eventId"])
        seal = hashlib.sha256(b64(entry["salt"], 16) + canonical_json(entry["fields"])).hexdigest()
        if event["payload"].get("personal") != seal:
            raise Refused("personal entry %d does not match its commitment" % number)
    return len(events)


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--public-key"):
        print(__doc__.strip().split("\n\n")[2].strip(), file=sys.stderr)
        return 2
    try:
        pinned = None
        if len(argv) == 4:
            with open(argv[3], encoding="utf-8") as handle:
                pinned = parse_key(handle.read())
        with open(argv[1], "rb") as handle:
            data = handle.read(64 * 1024 * 1024 + 1)
        if len(data) > 64 * 1024 * 1024:
            raise Refused("the bundle is larger than 64 MiB")
        count = verify_bundle(data, pinned)
    except Refused as error:
        print("REFUSED: %s" % error)
        return 1
    except (ValueError, UnicodeError, KeyError, TypeError) as error:
        print("REFUSED: malformed (%s)" % error)
        return 1
    print("OK %d events, complete" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
