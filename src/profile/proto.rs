//! Protocol buffers' wire format, the little of it pprof's `Profile`
//! needs: varints, and length-delimited fields (strings, packed repeated
//! varints, embedded messages). An embedded message is encoded into a
//! scratch buffer first, then written with its length.

use super::buf::Buf;

const VARINT: u64 = 0;
const LEN: u64 = 2;

pub type Bytes = Buf<u8>;

pub fn varint(out: &mut Bytes, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Bytes, field: u32, wire: u64) {
    varint(out, u64::from(field) << 3 | wire);
}

/// A varint field (left out when zero, as proto3 does).
pub fn uint(out: &mut Bytes, field: u32, v: u64) {
    if v != 0 {
        key(out, field, VARINT);
        varint(out, v);
    }
}

pub fn int(out: &mut Bytes, field: u32, v: i64) {
    uint(out, field, v as u64);
}

/// A length-delimited field: string, bytes or an encoded message.
pub fn bytes(out: &mut Bytes, field: u32, data: &[u8]) {
    key(out, field, LEN);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// A packed repeated varint field.
pub fn packed(
    out: &mut Bytes,
    field: u32,
    values: impl Iterator<Item = u64> + Clone,
    scratch: &mut Bytes,
) {
    scratch.clear();
    for v in values {
        varint(scratch, v);
    }
    bytes(out, field, scratch.as_slice());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_match_the_wire_format() {
        let mut out = Bytes::new();
        varint(&mut out, 300);
        assert_eq!(out.as_slice(), [0xac, 0x02]);
        out.clear();
        uint(&mut out, 1, 150);
        assert_eq!(out.as_slice(), [0x08, 0x96, 0x01]);
        out.clear();
        uint(&mut out, 1, 0);
        assert!(out.as_slice().is_empty());
        bytes(&mut out, 2, b"testing");
        assert_eq!(out.as_slice(), b"\x12\x07testing");
        out.clear();
        let mut scratch = Bytes::new();
        packed(&mut out, 4, [3u64, 270, 86942].into_iter(), &mut scratch);
        assert_eq!(
            out.as_slice(),
            [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]
        );
        out.clear();
        int(&mut out, 1, -1);
        assert_eq!(out.len(), 11);
    }
}
