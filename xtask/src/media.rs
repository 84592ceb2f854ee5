//! Byte-exact builders for tiny but structurally valid media files (JPEG, PNG, WebP, PDF, Ogg,
//! ISO BMFF, MP3, AAC, AMR), with the checksums each format needs (CRC-32, Ogg CRC, Adler-32).
//!
//! No external tool or crate: every byte is written here, so the output is deterministic.

/// CRC-32 (IEEE, reflected, as PNG and ZIP use it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The Ogg page checksum: CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0.
pub fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

// ---------------------------------------------------------------- JPEG

/// A 1×1 grey baseline JFIF JPEG: SOI, APP0, DQT, SOF0, two one-code Huffman tables, SOS with
/// one block (DC difference 0, then end-of-block), EOI.
pub fn jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
    j.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend_from_slice(&[1u8; 64]);
    j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
    for class_id in [0x00u8, 0x10] {
        // One code of length 1 ("0") for symbol 0: DC category 0, or AC end-of-block.
        j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class_id, 1]);
        j.extend_from_slice(&[0u8; 15]);
        j.push(0x00);
    }
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    // Bits "0" (DC diff 0) and "0" (EOB), padded with ones.
    j.push(0b0011_1111);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

// ---------------------------------------------------------------- PNG

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream holding `data` in one stored (uncompressed) deflate block.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).expect("small fixture");
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&len.to_le_bytes());
    z.extend_from_slice(&(!len).to_le_bytes());
    z.extend_from_slice(data);
    z.extend_from_slice(&adler32(data).to_be_bytes());
    z
}

/// A 4×4 8-bit RGB PNG with a colour gradient: IHDR, IDAT (stored deflate), IEND, valid CRCs.
pub fn png() -> Vec<u8> {
    let (w, h) = (4u32, 4u32);
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut p, b"IHDR", &ihdr);
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0); // filter: none
        for x in 0..w {
            raw.extend_from_slice(&[(x * 64) as u8, (y * 64) as u8, 0x80]);
        }
    }
    png_chunk(&mut p, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut p, b"IEND", &[]);
    p
}

// ---------------------------------------------------------------- WebP

/// Little-endian bit writer, as VP8L reads its bitstream.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            if self.n & 7 == 0 {
                self.out.push(0);
            }
            if (value >> i) & 1 != 0 {
                let last = self.out.len() - 1;
                self.out[last] |= 1 << (self.n % 8);
            }
            self.n += 1;
        }
    }
}

/// A VP8L (lossless) bitstream for one 1×1 pixel of colour `argb`: no transform, no colour
/// cache, no meta codes, five "simple" prefix codes of one symbol each (so the pixel costs no
/// bits).
fn vp8l_pixel(argb: [u8; 4]) -> Vec<u8> {
    let [a, r, g, b] = argb;
    let mut bits = Bits::default();
    bits.put(0x2F, 8); // signature
    bits.put(0, 14); // width - 1
    bits.put(0, 14); // height - 1
    bits.put(u32::from(a != 0xFF), 1); // alpha_is_used
    bits.put(0, 3); // version
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(0, 1); // no meta prefix codes
    for symbol in [g, r, b, a, 0] {
        bits.put(1, 1); // simple code
        bits.put(0, 1); // one symbol
        if symbol > 1 {
            bits.put(1, 1);
            bits.put(u32::from(symbol), 8);
        } else {
            bits.put(0, 1);
            bits.put(u32::from(symbol), 1);
        }
    }
    bits.out
}

fn riff_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8], pad: bool) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if pad && data.len() % 2 == 1 {
        out.push(0);
    }
}

fn riff_webp(chunks: &[u8]) -> Vec<u8> {
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&((chunks.len() + 4) as u32).to_le_bytes());
    w.extend_from_slice(b"WEBP");
    w.extend_from_slice(chunks);
    w
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn vp8x(flags: u8) -> Vec<u8> {
    let mut c = vec![flags, 0, 0, 0];
    c.extend_from_slice(&u24(0)); // canvas width - 1
    c.extend_from_slice(&u24(0)); // canvas height - 1
    c
}

/// A simple-format static WebP: one `VP8L` chunk, a 1×1 green pixel.
pub fn webp_static() -> Vec<u8> {
    let mut chunks = Vec::new();
    riff_chunk(
        &mut chunks,
        b"VP8L",
        &vp8l_pixel([0xFF, 0x20, 0xC0, 0x40]),
        true,
    );
    riff_webp(&chunks)
}

/// An extended-format static WebP (`VP8X` without the animation flag, `VP8L`) padded with an
/// unknown `PADD` chunk to exactly `total` bytes. An odd `total` leaves the last chunk without
/// its RIFF padding byte (decoders accept a file that ends there).
pub fn webp_static_sized(total: usize) -> Vec<u8> {
    let mut chunks = Vec::new();
    riff_chunk(&mut chunks, b"VP8X", &vp8x(0x00), true);
    riff_chunk(
        &mut chunks,
        b"VP8L",
        &vp8l_pixel([0xFF, 0x20, 0xC0, 0x40]),
        true,
    );
    let pad = total - 12 - chunks.len() - 8;
    riff_chunk(&mut chunks, b"PADD", &vec![0u8; pad], false);
    let w = riff_webp(&chunks);
    assert_eq!(w.len(), total);
    w
}

/// An animated WebP: `VP8X` with the animation flag, `ANIM` (loop forever), two `ANMF` frames
/// of 1×1 lossless pixels (red, then blue), optionally padded to exactly `total` bytes.
pub fn webp_animated(total: Option<usize>) -> Vec<u8> {
    let mut chunks = Vec::new();
    riff_chunk(&mut chunks, b"VP8X", &vp8x(0x02), true);
    riff_chunk(&mut chunks, b"ANIM", &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0], true);
    for argb in [[0xFF, 0xFF, 0, 0], [0xFF, 0, 0, 0xFF]] {
        let mut frame = Vec::new();
        frame.extend_from_slice(&u24(0)); // x / 2
        frame.extend_from_slice(&u24(0)); // y / 2
        frame.extend_from_slice(&u24(0)); // width - 1
        frame.extend_from_slice(&u24(0)); // height - 1
        frame.extend_from_slice(&u24(500)); // duration, ms
        frame.push(0); // alpha-blend, no dispose
        riff_chunk(&mut frame, b"VP8L", &vp8l_pixel(argb), true);
        riff_chunk(&mut chunks, b"ANMF", &frame, true);
    }
    if let Some(total) = total {
        let pad = total - 12 - chunks.len() - 8;
        riff_chunk(&mut chunks, b"PADD", &vec![0u8; pad], true);
    }
    let w = riff_webp(&chunks);
    if let Some(total) = total {
        assert_eq!(w.len(), total);
    }
    w
}

// ---------------------------------------------------------------- PDF

/// A one-page PDF 1.4 with a text line, a correct cross-reference table and trailer.
pub fn pdf() -> Vec<u8> {
    let content = "BT /F1 18 Tf 20 40 Td (wa-media fixture) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut p = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(p.len());
        p.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = p.len();
    p.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        p.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    p.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    p
}

// ---------------------------------------------------------------- Ogg

/// One Ogg page holding whole `packets`, with lacing values and the page CRC.
fn ogg_page(flags: u8, granule: u64, serial: u32, seq: u32, packets: &[&[u8]]) -> Vec<u8> {
    let mut lacing = Vec::new();
    for p in packets {
        let mut n = p.len();
        while n >= 255 {
            lacing.push(255);
            n -= 255;
        }
        lacing.push(n as u8);
    }
    let mut page = b"OggS\0".to_vec();
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&seq.to_le_bytes());
    page.extend_from_slice(&[0; 4]); // CRC, filled below
    page.push(u8::try_from(lacing.len()).expect("fewer than 256 lacing values"));
    page.extend_from_slice(&lacing);
    for p in packets {
        page.extend_from_slice(p);
    }
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

const BOS: u8 = 0x02;
const EOS: u8 = 0x04;

/// An Ogg Opus voice note (RFC 7845): `OpusHead`, `OpusTags`, then 0.1 s of silent 20 ms
/// CELT frames, mono, 48 kHz.
pub fn ogg_opus() -> Vec<u8> {
    let serial = 0x5741_4D31; // "WAM1"
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // mapping family
    let mut tags = b"OpusTags".to_vec();
    let vendor = b"wa-media xtask";
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    let silence: &[u8] = &[0xF8, 0xFF, 0xFE];
    let frames = [silence; 5];
    let mut o = ogg_page(BOS, 0, serial, 0, &[&head]);
    o.extend(ogg_page(0, 0, serial, 1, &[&tags]));
    o.extend(ogg_page(EOS, 312 + 5 * 960, serial, 2, &frames));
    o
}

/// An Ogg Vorbis stream's identification and comment headers (enough for any sniffer; no
/// setup header or audio, so it decodes to nothing). WhatsApp refuses Vorbis.
pub fn ogg_vorbis() -> Vec<u8> {
    let serial = 0x5741_4D32;
    let mut id = b"\x01vorbis".to_vec();
    id.extend_from_slice(&0u32.to_le_bytes()); // version
    id.push(1); // channels
    id.extend_from_slice(&44_100u32.to_le_bytes());
    id.extend_from_slice(&0i32.to_le_bytes()); // bitrate max
    id.extend_from_slice(&64_000i32.to_le_bytes()); // nominal
    id.extend_from_slice(&0i32.to_le_bytes()); // min
    id.push(0xB8); // block sizes 256 / 2048
    id.push(1); // framing
    let mut comment = b"\x03vorbis".to_vec();
    let vendor = b"wa-media xtask";
    comment.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    comment.extend_from_slice(vendor);
    comment.extend_from_slice(&0u32.to_le_bytes());
    comment.push(1);
    let mut o = ogg_page(BOS, 0, serial, 0, &[&id]);
    o.extend(ogg_page(EOS, 0, serial, 1, &[&comment]));
    o
}

// ---------------------------------------------------------------- ISO BMFF

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

/// An ISO base media file: `ftyp` with the given brands, `moov` holding a version-0 `mvhd`
/// (timescale 1000, duration 0, unity matrix), and an empty `mdat`.
pub fn iso_bmff(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let mut ftyp = major.to_vec();
    ftyp.extend_from_slice(&0x200u32.to_be_bytes());
    for c in compatible {
        ftyp.extend_from_slice(*c);
    }
    let mut mvhd = vec![0u8; 4]; // version 0, flags 0
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // creation time
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // modification time
    mvhd.extend_from_slice(&1000u32.to_be_bytes()); // timescale
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // duration
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    mvhd.extend_from_slice(&be16(0x0100)); // volume 1.0
    mvhd.extend_from_slice(&[0u8; 10]); // reserved
    for m in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        mvhd.extend_from_slice(&m.to_be_bytes());
    }
    mvhd.extend_from_slice(&[0u8; 24]); // pre_defined
    mvhd.extend_from_slice(&1u32.to_be_bytes()); // next track id
    let mut f = mp4_box(b"ftyp", &ftyp);
    f.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
    f.extend(mp4_box(b"mdat", &[]));
    f
}

// ---------------------------------------------------------------- MP3, AAC, AMR

/// An ID3v2.4 tag (one `TIT2` title frame) followed by three silent MPEG-1 Layer III frames
/// (128 kbit/s, 44.1 kHz, mono, 417 bytes each).
pub fn mp3() -> Vec<u8> {
    let title = b"\x03wa-media fixture";
    let mut frame = b"TIT2".to_vec();
    frame.extend_from_slice(&synchsafe(title.len() as u32));
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(title);
    let mut m = b"ID3\x04\x00\x00".to_vec();
    m.extend_from_slice(&synchsafe(frame.len() as u32));
    m.extend_from_slice(&frame);
    for _ in 0..3 {
        let mut f = vec![0xFF, 0xFB, 0x90, 0xC4];
        f.resize(417, 0);
        m.extend_from_slice(&f);
    }
    m
}

fn synchsafe(v: u32) -> [u8; 4] {
    [
        ((v >> 21) & 0x7F) as u8,
        ((v >> 14) & 0x7F) as u8,
        ((v >> 7) & 0x7F) as u8,
        (v & 0x7F) as u8,
    ]
}

/// Four ADTS frames of AAC-LC, 44.1 kHz mono, each a 7-byte header (no CRC) and a silent
/// raw data block.
pub fn aac() -> Vec<u8> {
    let payload: &[u8] = &[0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80];
    let len = (7 + payload.len()) as u32;
    let mut a = Vec::new();
    for _ in 0..4 {
        let (profile, sf_index, channels) = (1u32, 4u32, 1u32);
        let fullness = 0x7FFu32;
        a.extend_from_slice(&[
            0xFF,
            0xF1,
            ((profile << 6) | (sf_index << 2) | (channels >> 2)) as u8,
            (((channels & 3) << 6) | (len >> 11)) as u8,
            ((len >> 3) & 0xFF) as u8,
            (((len & 7) << 5) | (fullness >> 6)) as u8,
            (((fullness & 0x3F) << 2) & 0xFF) as u8,
        ]);
        a.extend_from_slice(payload);
    }
    a
}

/// An AMR-NB file: the `#!AMR\n` magic, five 12.2 kbit/s frames (header 0x3C, 31 bytes of
/// zeros) and one NO_DATA frame.
pub fn amr() -> Vec<u8> {
    let mut a = b"#!AMR\n".to_vec();
    for _ in 0..5 {
        a.push(0x3C);
        a.extend_from_slice(&[0u8; 31]);
    }
    a.push(0x7C);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(ogg_crc(b"123456789"), 0x89A1_897F);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }
}
