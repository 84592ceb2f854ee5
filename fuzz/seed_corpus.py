#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/<target>/ (from the fixtures plus hostile variants).
Inputs found by `cargo fuzz run` are added beside them. Run from fuzz/: python3 seed_corpus.py"""
import hashlib, json, os, pathlib

ROOT = pathlib.Path(__file__).resolve().parent
FIX = ROOT.parent / "fixtures"


def put(target, name, data):
    d = ROOT / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


# webhook: every fixture, then hostile variants of the document one.
for p in sorted((FIX / "webhooks").glob("*.json")):
    if p.name != "signature-vectors.json":
        put("webhook", "fixture-" + p.stem, p.read_bytes())
doc = json.loads((FIX / "webhooks" / "document.json").read_text())
def with_filename(name):
    d = json.loads(json.dumps(doc))
    for e in d["entry"]:
        for c in e["changes"]:
            for m in c["value"].get("messages", []):
                if "document" in m:
                    m["document"]["filename"] = name
    return json.dumps(d)
for i, name in enumerate(["../../etc/passwd", "/etc/shadow", "C:\\Windows\\system32\\x.dll", "CON", "nul.txt",
                          "a\u0000b.pdf", "..", "." * 300, "\u202eexe.pdf", "x" * 5000]):
    put("webhook", f"hostile-filename-{i}", with_filename(name))
put("webhook", "empty", "")
put("webhook", "not-object", "[1,2,3]")
put("webhook", "deep", "[" * 200 + "]" * 200)
put("webhook", "no-entry", '{"object":"whatsapp_business_account"}')
put("webhook", "id-not-numeric", (FIX / "webhooks" / "image.json").read_text().replace('"id": "', '"id": "x'))
put("webhook", "sha-not-base64", (FIX / "webhooks" / "image.json").read_text().replace('"sha256": "', '"sha256": "!!'))
put("webhook", "huge-number", '{"object":"whatsapp_business_account","entry":[{"id":1e999}]}')

# graph_response: byte 0 selects the status; the rest is the body (and short header values).
for p in sorted((FIX / "graph").iterdir()):
    put("graph_response", "fixture-" + p.stem, p.read_bytes())
signed = '{"url":"https:\\/\\/lookaside.fbsbx.com\\/whatsapp_business\\/attachments\\/?mid=1&hash=SECRET","mime_type":"image/jpeg","sha256":"' + "ab" * 32 + '","file_size":"12","id":"1","messaging_product":"whatsapp"}'
put("graph_response", "escaped-url", signed)
put("graph_response", "missing-fields", '{"url":"https://lookaside.fbsbx.com/x?hash=S"}')
put("graph_response", "size-negative", signed.replace('"12"', "-1"))
put("graph_response", "size-huge", signed.replace('"12"', "184467440737095516150"))
put("graph_response", "url-relative", signed.replace("https:\\/\\/lookaside.fbsbx.com", ""))
put("graph_response", "retry-after-date", "Fri, 31 Dec 9999 23:59:59 GMT")
put("graph_response", "retry-after-big", "999999999999999999999999")
put("graph_response", "retry-after-float", "1e308")
put("graph_response", "error-nested", '{"error":{"message":{"x":1},"code":"190"}}')
put("graph_response", "error-wrong-types", '{"error":{"message":"m","code":-1,"error_subcode":1e3,"is_transient":"yes"}}')
put("graph_response", "html", "<html><body>502 Bad Gateway</body></html>")
put("graph_response", "bom-json", b"\xef\xbb\xbf" + b'{"id":"123"}')
put("graph_response", "success-false", '{"success":false}')
put("graph_response", "invalid-utf8", b'{"id":"\xff\xfe"}')

# sniff_validate: byte 0 picks the declared MIME type, byte 1 the kind; then the file's head.
MIMES = ["image/jpeg", "image/png", "image/webp", "audio/ogg; codecs=opus", "audio/ogg", "audio/mpeg",
         "audio/aac", "audio/amr", "audio/mp4", "video/mp4", "video/3gpp", "application/pdf", "text/plain",
         "application/octet-stream", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "image/gif"]
manifest = json.loads((FIX / "media" / "manifest.json").read_text())
for f in manifest["files"]:
    mime = f["mime"]
    idx = MIMES.index(mime) if mime in MIMES else 13
    data = (FIX / "media" / f["file"]).read_bytes()[:4096]
    put("sniff_validate", "fixture-" + f["file"].replace(".", "-"), bytes([idx, 0]) + data)
    put("sniff_validate", "fixture-declared-wrong-" + f["file"].replace(".", "-"), bytes([(idx + 1) % len(MIMES), 5]) + data)
put("sniff_validate", "empty", b"")
put("sniff_validate", "len-max", bytes([0, 0x80]) + b"\xff" * 8 + b"\xff\xd8\xff")
put("sniff_validate", "mime-from-input", bytes([0x80, 0]) + b"audio/ogg; codecs=\"opus\"; x=\"\\\"\"\x00OggS")
put("sniff_validate", "webp-riff-truncated", bytes([2, 5]) + b"RIFF\xff\xff\xff\xffWEBPVP8X\x0a\x00\x00\x00")
put("sniff_validate", "ogg-short", bytes([3, 6]) + b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead")

# multipart: the first line is the boundary, the rest the body.
def part(name, value, filename=None, ctype=None):
    h = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        h += f'; filename="{filename}"'
    if ctype:
        h += f"\r\nContent-Type: {ctype}"
    return b"--B\r\n" + h.encode() + b"\r\n\r\n" + (value if isinstance(value, bytes) else value.encode()) + b"\r\n"
png = (FIX / "media" / "image.png").read_bytes()
jpg = (FIX / "media" / "image.jpg").read_bytes()[:3000]
def mp(*parts, end=True):
    return b"B\n" + b"".join(parts) + (b"--B--\r\n" if end else b"")
good = [part("messaging_product", "whatsapp"), part("type", "image/png"), part("file", png, "a.png", "image/png")]
put("multipart", "valid-png", mp(*good))
put("multipart", "valid-text", mp(part("messaging_product", "whatsapp"), part("type", "text/plain"), part("file", "hello", "a.txt", "text/plain")))
put("multipart", "missing-product", mp(*good[1:]))
put("multipart", "missing-type", mp(good[0], good[2]))
put("multipart", "missing-file", mp(*good[:2]))
put("multipart", "two-files", mp(*good, good[2]))
put("multipart", "wrong-product", mp(part("messaging_product", "sms"), *good[1:]))
put("multipart", "declared-mismatch", mp(good[0], part("type", "image/jpeg"), good[2]))
put("multipart", "jpeg-as-png", mp(good[0], good[1], part("file", jpg, "x.png", "image/png")))
put("multipart", "no-closing-boundary", mp(*good, end=False))
put("multipart", "truncated-mid-file", mp(*good)[:300])
put("multipart", "no-boundary-line", b"".join(good))
put("multipart", "empty", b"")
put("multipart", "only-boundary", b"B\n--B--\r\n")
put("multipart", "filename-traversal", mp(good[0], good[1], part("file", png, "../../../etc/passwd", "image/png")))
put("multipart", "huge-header", mp(part("x" * 9000, "v"), *good))
put("multipart", "bad-part-type", mp(good[0], part("type", "application/x-msdownload"), part("file", b"MZ\x90\x00", "a.exe", "application/x-msdownload")))
put("multipart", "invalid-utf8-field", mp(part("messaging_product", b"\xff\xfe"), *good[1:]))
put("multipart", "long-boundary", b"x" * 90 + b"\n" + mp(*good)[2:])
put("multipart", "lf-only", mp(*good).replace(b"\r\n", b"\n"))
put("multipart", "unknown-fields", mp(part("caption", "hi"), *good))
put("multipart", "empty-file", mp(good[0], part("type", "text/plain"), part("file", b"", "e.txt", "text/plain")))
