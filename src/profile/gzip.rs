//! gzip (RFC 1952) around deflate's *stored* blocks (RFC 1951 §3.2.4): a
//! valid `.gz` without a compressor. pprof profiles are small; the file
//! is as large as the protobuf plus 5 bytes per 64 KiB and 18 bytes.

use super::buf::Buf;

const STORED_MAX: usize = 0xffff;

/// `data` gzipped into `out`.
pub fn gzip(data: &[u8], out: &mut Buf<u8>) {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=3 (Unix).
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    let mut chunks = data.chunks(STORED_MAX).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = u8::from(chunks.peek().is_none());
        let len = chunk.len() as u16;
        out.push(last); // BFINAL, BTYPE=00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC-32 (IEEE 802.3), as gzip's trailer wants it.
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_the_check_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn stored_blocks_split_at_64k_and_only_the_last_is_final() {
        let data: std::vec::Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
        let mut out = Buf::new();
        gzip(&data, &mut out);
        let gz = out.as_slice();
        assert_eq!(gz.len(), 10 + 3 * 5 + data.len() + 8);
        assert_eq!(gz[10], 0);
        assert_eq!(&gz[11..15], [0xff, 0xff, 0, 0]);
        let second = 10 + 5 + STORED_MAX;
        assert_eq!(gz[second], 0);
        let third = second + 5 + STORED_MAX;
        assert_eq!(gz[third], 1);
        assert_eq!(&gz[gz.len() - 4..], (data.len() as u32).to_le_bytes());
    }
}
