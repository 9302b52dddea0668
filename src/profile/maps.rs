//! The process's executable mappings, for the profile's `Mapping`s: from
//! `/proc/self/maps` (start, end, file offset, path) and, for each, the GNU
//! build ID of the loaded object that contains it (`dl_iterate_phdr`, its
//! `PT_NOTE` segments), so that pprof symbolises each address from the
//! right binary.

use super::buf::Buf;

/// One executable mapping. `path` is a range of `Maps::text`.
#[derive(Clone, Copy)]
pub struct Mapping {
    pub start: usize,
    pub limit: usize,
    pub offset: usize,
    path: (usize, usize),
    pub build_id: [u8; 20],
    pub build_id_len: usize,
}

pub struct Maps {
    text: Buf<u8>,
    pub list: Buf<Mapping>,
}

impl Maps {
    /// The executable mappings of this process (none if /proc is absent).
    pub fn read() -> Maps {
        let mut maps = Maps {
            text: Buf::new(),
            list: Buf::new(),
        };
        read_file(c"/proc/self/maps", &mut maps.text);
        let mut line_start = 0;
        let text = maps.text.as_slice();
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' {
                if let Some(m) = parse_line(text, line_start, i) {
                    maps.list.push(m);
                }
                line_start = i + 1;
            }
        }
        for m in maps.list.as_mut_slice() {
            let (id_len, segment_start) = describe_object_at(m.start, &mut m.build_id);
            m.build_id_len = id_len;
            // The segment may start inside the mapping's first page: start
            // the mapping there, so that `start - offset` still maps the
            // file, and `start` is the segment's address (which Go's pprof
            // takes for the load address).
            if m.start < segment_start && segment_start < m.limit {
                m.offset += segment_start - m.start;
                m.start = segment_start;
            }
        }
        maps
    }

    pub fn path(&self, m: &Mapping) -> &[u8] {
        &self.text.as_slice()[m.path.0..m.path.1]
    }

    /// The index of the mapping holding `addr`.
    pub fn find(&self, addr: usize) -> Option<usize> {
        self.list
            .as_slice()
            .iter()
            .position(|m| m.start <= addr && addr < m.limit)
    }
}

/// `start-end perms offset dev inode path`, kept when executable.
fn parse_line(text: &[u8], from: usize, to: usize) -> Option<Mapping> {
    let line = &text[from..to];
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = hex(fields.next()?)?;
    let _dev = fields.next()?;
    let _inode = fields.next()?;
    if perms.get(2) != Some(&b'x') {
        return None;
    }
    let dash = range.iter().position(|&b| b == b'-')?;
    let path_at = fields
        .next()
        .map_or(to, |p| p.as_ptr() as usize - text.as_ptr() as usize);
    Some(Mapping {
        start: hex(&range[..dash])?,
        limit: hex(&range[dash + 1..])?,
        offset,
        path: (path_at, to),
        build_id: [0; 20],
        build_id_len: 0,
    })
}

fn hex(digits: &[u8]) -> Option<usize> {
    let mut v = 0usize;
    for &d in digits {
        let x = (d as char).to_digit(16)?;
        v = v.checked_mul(16)? + x as usize;
    }
    (!digits.is_empty()).then_some(v)
}

/// Reads a whole file with open/read (no allocation) into `out`.
pub fn read_file(path: &core::ffi::CStr, out: &mut Buf<u8>) -> bool {
    // SAFETY: a NUL-terminated path; flags without O_CREAT need no mode.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return false;
    }
    let mut chunk = [0u8; 4096];
    loop {
        // SAFETY: reading into a local array of the given length.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n as usize]);
    }
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    true
}

struct Search<'a> {
    addr: usize,
    id: &'a mut [u8; 20],
    len: usize,
    segment_start: usize,
}

/// The loaded object containing `addr`: its GNU build ID into `id`, and
/// (the length of the ID, 0 when there is none; the address where the
/// loadable segment holding `addr` starts, 0 when no object holds it).
fn describe_object_at(addr: usize, id: &mut [u8; 20]) -> (usize, usize) {
    let mut search = Search {
        addr,
        id,
        len: 0,
        segment_start: 0,
    };
    // SAFETY: the callback only reads the program headers the loader
    // passes and writes into `search`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit_object), (&mut search as *mut Search).cast()) };
    (search.len, search.segment_start)
}

unsafe extern "C" fn visit_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: data is the `Search` of build_id_at; info is valid for the
    // call, and its phdrs array has dlpi_phnum entries.
    let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
    let phdrs =
        unsafe { core::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let base = info.dlpi_addr as usize;
    // Mappings start at page boundaries, segments need not.
    let page_floor = |a: usize| a & !4095;
    let segment = phdrs.iter().find(|p| {
        let start = base + p.p_vaddr as usize;
        p.p_type == libc::PT_LOAD
            && page_floor(start) <= search.addr
            && search.addr < start + p.p_memsz as usize
    });
    let Some(segment) = segment else {
        return 0;
    };
    search.segment_start = base + segment.p_vaddr as usize;
    for p in phdrs.iter().filter(|p| p.p_type == libc::PT_NOTE) {
        // SAFETY: a PT_NOTE segment of a loaded object is mapped readable.
        let notes = unsafe {
            core::slice::from_raw_parts(
                (base + p.p_vaddr as usize) as *const u8,
                p.p_memsz as usize,
            )
        };
        if let Some(id) = gnu_build_id(notes) {
            let n = id.len().min(search.id.len());
            search.id[..n].copy_from_slice(&id[..n]);
            search.len = n;
        }
    }
    1
}

/// The descriptor of the `NT_GNU_BUILD_ID` note among `notes`.
fn gnu_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    while notes.len() >= 12 {
        let namesz = word(notes, 0)? as usize;
        let descsz = word(notes, 4)? as usize;
        let kind = word(notes, 8)?;
        let name_end = 12 + namesz.next_multiple_of(4);
        let desc_end = name_end + descsz.next_multiple_of(4);
        let name = notes.get(12..12 + namesz)?;
        let desc = notes.get(name_end..name_end + descsz)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return Some(desc);
        }
        notes = notes.get(desc_end..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_only_executable_ones_count() {
        let text = b"55d0c000-55d0d000 r-xp 00002000 08:01 123 /usr/bin/prog\n\
                     7f00-7f80 rw-p 00000000 00:00 0\n\
                     7fff0000-7fff1000 r-xp 00000000 00:00 0 [vdso]\n";
        let first_end = text.iter().position(|&b| b == b'\n').unwrap();
        let m = parse_line(text, 0, first_end).unwrap();
        assert_eq!(
            (m.start, m.limit, m.offset),
            (0x55d0c000, 0x55d0d000, 0x2000)
        );
        assert_eq!(&text[m.path.0..m.path.1], b"/usr/bin/prog");
        let second_end = first_end
            + 1
            + text[first_end + 1..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap();
        assert!(parse_line(text, first_end + 1, second_end).is_none());
    }

    #[test]
    fn this_test_binary_is_mapped_with_its_build_id() {
        let maps = Maps::read();
        let here = this_test_binary_is_mapped_with_its_build_id as fn() as usize;
        let i = maps.find(here).expect("a mapping holds this code");
        let m = maps.list.as_slice()[i];
        let exe = std::env::current_exe().unwrap();
        assert_eq!(maps.path(&m), exe.as_os_str().as_encoded_bytes());
        assert_eq!(
            (m.start - m.offset) % 4096,
            0,
            "start and offset move together"
        );
        assert!(m.build_id_len >= 8, "the linker writes a GNU build ID");
    }
}
