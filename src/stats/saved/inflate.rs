//! zlib (RFC 1950) around DEFLATE (RFC 1951), decoded with a hard limit on the output.
//!
//! Input: the compressed bytes of one histogram, and the most bytes the output may have.
//! Output: the inflated bytes, after their Adler-32 checksum matched. Exists so that a saved
//! histogram's inner header can be checked before the HdrHistogram decoder (which sizes a
//! buffer from that header) sees it. Must not allocate beyond the limit, loop without
//! consuming input, or panic: every malformed stream is an error.

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order code-length code lengths are sent in.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Inflates a zlib stream into at most `limit` bytes.
pub fn zlib(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let (&cmf, &flg) = match data {
        [a, b, ..] => (a, b),
        _ => return Err("the compressed stream is empty".into()),
    };
    if cmf & 0x0f != 8 || cmf >> 4 > 7 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err("not a zlib stream".into());
    }
    if flg & 0x20 != 0 {
        return Err("the zlib stream needs a preset dictionary".into());
    }
    let (out, used) = raw(&data[2..], limit)?;
    let at = 2 + used;
    let want = data.get(at..at + 4).ok_or("the zlib checksum is missing")?;
    let want = u32::from_be_bytes([want[0], want[1], want[2], want[3]]);
    if adler32(&out) != want {
        return Err("the zlib checksum does not match".into());
    }
    Ok(out)
}

/// Inflates a raw DEFLATE stream into at most `limit` bytes; returns them and how many input
/// bytes the stream took (up to its last whole byte).
pub fn raw(data: &[u8], limit: usize) -> Result<(Vec<u8>, usize), String> {
    let mut d = Inflater {
        bits: Bits {
            data,
            pos: 0,
            buf: 0,
            count: 0,
        },
        out: Vec::new(),
        limit,
    };
    d.blocks()?;
    Ok((d.out, d.bits.pos))
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

/// Least significant bit first, as DEFLATE packs them.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    count: u32,
}

impl Bits<'_> {
    pub(super) fn need(&mut self, n: u32) -> Result<u32, String> {
        while self.count < n {
            let byte = *self
                .data
                .get(self.pos)
                .ok_or("the compressed stream is cut off")?;
            self.pos += 1;
            self.buf |= u32::from(byte) << self.count;
            self.count += 8;
        }
        let v = self.buf & ((1u32 << n) - 1);
        self.buf >>= n;
        self.count -= n;
        Ok(v)
    }

    /// Drops the bits left of the current byte (stored blocks start on a byte).
    pub(super) fn align(&mut self) {
        self.buf = 0;
        self.count = 0;
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

/// Whether a code must use every bit pattern of its lengths.
#[derive(Clone, Copy)]
enum Complete {
    Always,
    /// Or be the one 1-bit code an encoder sends for a single symbol (zlib's rule).
    ButOneBit,
    /// The fixed distance code: 30 of its 32 patterns are used, by definition.
    Never,
}

impl Huffman {
    /// Builds the code from each symbol's code length (0 = unused). Over-subscribed codes are
    /// refused; an incomplete one as `rule` says.
    pub(super) fn new(lengths: &[u8], rule: Complete) -> Result<Huffman, String> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        let mut left: i32 = 1;
        for &c in &counts[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err("a Huffman code is over-subscribed".into());
            }
        }
        let used = lengths.len() - usize::from(counts[0]);
        let refused = match rule {
            Complete::Always => true,
            Complete::ButOneBit => used != usize::from(counts[1]),
            Complete::Never => false,
        };
        if left > 0 && refused {
            return Err("a Huffman code is incomplete".into());
        }
        let mut offsets = [0usize; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + usize::from(counts[len]);
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let slot = &mut offsets[usize::from(l)];
                symbols[*slot] = sym as u16;
                *slot += 1;
            }
        }
        counts[0] = 0;
        Ok(Huffman { counts, symbols })
    }
}

struct Inflater<'a> {
    bits: Bits<'a>,
    out: Vec<u8>,
    limit: usize,
}

impl Inflater<'_> {
    pub(super) fn blocks(&mut self) -> Result<(), String> {
        loop {
            let last = self.bits.need(1)? == 1;
            match self.bits.need(2)? {
                0 => self.stored()?,
                1 => {
                    let (lit, dist) = fixed()?;
                    self.codes(&lit, &dist)?;
                }
                2 => {
                    let (lit, dist) = self.dynamic()?;
                    self.codes(&lit, &dist)?;
                }
                _ => return Err("a DEFLATE block of the reserved type 3".into()),
            }
            if last {
                self.bits.align();
                return Ok(());
            }
        }
    }

    pub(super) fn room(&self, n: usize) -> Result<(), String> {
        if self.out.len() + n > self.limit {
            Err(format!(
                "inflates to more than {} bytes, larger than any loadplan histogram",
                self.limit
            ))
        } else {
            Ok(())
        }
    }

    pub(super) fn stored(&mut self) -> Result<(), String> {
        self.bits.align();
        let b = &mut self.bits;
        let header = b
            .data
            .get(b.pos..b.pos + 4)
            .ok_or("a stored block is cut off")?;
        let len = u16::from_le_bytes([header[0], header[1]]);
        let nlen = u16::from_le_bytes([header[2], header[3]]);
        if len != !nlen {
            return Err("a stored block's length check fails".into());
        }
        let from = b.pos + 4;
        let body = b
            .data
            .get(from..from + usize::from(len))
            .ok_or("a stored block is cut off")?;
        b.pos = from + usize::from(len);
        self.room(body.len())?;
        self.out.extend_from_slice(body);
        Ok(())
    }

    pub(super) fn decode(&mut self, h: &Huffman) -> Result<usize, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= self.bits.need(1)? as i32;
            let count = i32::from(h.counts[len]);
            if code - count < first {
                let at = (index + code - first) as usize;
                return h
                    .symbols
                    .get(at)
                    .map(|s| usize::from(*s))
                    .ok_or_else(|| "a Huffman code points nowhere".to_string());
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("a Huffman code is not in its table".into())
    }

    pub(super) fn dynamic(&mut self) -> Result<(Huffman, Huffman), String> {
        let nlen = self.bits.need(5)? as usize + 257;
        let ndist = self.bits.need(5)? as usize + 1;
        let ncode = self.bits.need(4)? as usize + 4;
        if nlen > 286 || ndist > 30 {
            return Err("a dynamic block declares too many codes".into());
        }
        let mut clen = [0u8; 19];
        for &at in &CLEN_ORDER[..ncode] {
            clen[at] = self.bits.need(3)? as u8;
        }
        let clen = Huffman::new(&clen, Complete::Always)?;
        let mut lengths = vec![0u8; nlen + ndist];
        let mut i = 0;
        while i < lengths.len() {
            let sym = self.decode(&clen)?;
            let (value, repeat) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    let Some(&prev) = i.checked_sub(1).and_then(|p| lengths.get(p)) else {
                        return Err("a length repeat with nothing before it".into());
                    };
                    (prev, 3 + self.bits.need(2)? as usize)
                }
                17 => (0, 3 + self.bits.need(3)? as usize),
                _ => (0, 11 + self.bits.need(7)? as usize),
            };
            let run = lengths
                .get_mut(i..i + repeat)
                .ok_or("code lengths run past their count")?;
            run.fill(value);
            i += repeat;
        }
        if lengths[256] == 0 {
            return Err("a dynamic block has no end-of-block code".into());
        }
        Ok((
            Huffman::new(&lengths[..nlen], Complete::ButOneBit)?,
            Huffman::new(&lengths[nlen..], Complete::ButOneBit)?,
        ))
    }

    pub(super) fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), String> {
        loop {
            let sym = self.decode(lit)?;
            if sym < 256 {
                self.room(1)?;
                self.out.push(sym as u8);
                continue;
            }
            if sym == 256 {
                return Ok(());
            }
            let k = sym - 257;
            let (Some(base), Some(extra)) = (LENGTH_BASE.get(k), LENGTH_EXTRA.get(k)) else {
                return Err("an invalid length code".into());
            };
            let len = usize::from(*base) + self.bits.need(u32::from(*extra))? as usize;
            let k = self.decode(dist)?;
            let (Some(base), Some(extra)) = (DIST_BASE.get(k), DIST_EXTRA.get(k)) else {
                return Err("an invalid distance code".into());
            };
            let back = usize::from(*base) + self.bits.need(u32::from(*extra))? as usize;
            if back > self.out.len() {
                return Err("a distance reaches before the start".into());
            }
            self.room(len)?;
            let from = self.out.len() - back;
            for j in 0..len {
                let b = self.out[from + j];
                self.out.push(b);
            }
        }
    }
}

fn fixed() -> Result<(Huffman, Huffman), String> {
    let mut lit = [0u8; 288];
    lit[..144].fill(8);
    lit[144..256].fill(9);
    lit[256..280].fill(7);
    lit[280..].fill(8);
    Ok((
        Huffman::new(&lit, Complete::Always)?,
        Huffman::new(&[5u8; 30], Complete::Never)?,
    ))
}
