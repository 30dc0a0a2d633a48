//! A checked cursor over a byte slice: every read returns `None` past the
//! end instead of panicking, so the handshake parsers can use `?` on
//! attacker-controlled lengths.

/// Reads big-endian integers and length-prefixed vectors from a slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    /// Bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.data.len() {
            return None;
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&b, tail) = self.data.split_first()?;
        self.data = tail;
        Some(b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(
            usize::from(*b.first()?) << 16 | usize::from(*b.get(1)?) << 8 | usize::from(*b.get(2)?),
        )
    }

    /// A vector with a one-byte length prefix.
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix.
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A vector with a three-byte length prefix.
    pub fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
}

/// The big-endian `u16` values of `b` (an odd last byte is ignored).
pub fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| match c {
        [h, l] => u16::from_be_bytes([*h, *l]),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_stops_at_the_end() {
        let mut r = Reader::new(&[1, 0, 2, 0xaa, 0xbb, 0, 0, 1, 9]);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.vec16(), Some(&[0xaa, 0xbb][..]));
        assert_eq!(r.vec24(), Some(&[9][..]));
        assert!(r.is_empty());
        assert_eq!(r.u16(), None);
        let mut r = Reader::new(&[5, 1]);
        assert_eq!(r.vec8(), None);
        assert_eq!(u16s(&[1, 2, 3]).collect::<Vec<_>>(), vec![0x0102]);
    }
}
