//! The rings' memory: a section (`CreateFileMappingW` backed by the paging file, unnamed), whose
//! handle is copied into the one worker it is for, so no other process can open it; `mmap` is
//! `MapViewOfFile`, `munmap` is `UnmapViewOfFile`.

use std::io;
use std::os::windows::io::OwnedHandle;
use std::ptr::NonNull;

use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, UnmapViewOfFile, FILE_MAP_ALL_ACCESS,
    MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};

use super::handle::{owned, raw};

/// A section for the rings: only the parent and the worker it was copied into hold it.
pub(crate) struct SharedMemory {
    pub(super) section: OwnedHandle,
    pub(super) len: u64,
}

impl SharedMemory {
    /// A new section of `len` zeroed bytes.
    pub(crate) fn create(len: usize) -> io::Result<SharedMemory> {
        Ok(SharedMemory {
            section: section(len)?,
            len: len as u64,
        })
    }

    /// Its size in bytes (as the parent made it).
    pub(crate) fn size(&self) -> io::Result<u64> {
        Ok(self.len)
    }

    /// Maps its first `len` bytes, read and write (`unmap` undoes it).
    pub(crate) fn map(&self, len: usize) -> io::Result<NonNull<u8>> {
        if len as u64 > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the mapping is larger than the section",
            ));
        }
        view(&self.section, len)
    }
}

/// A new unnamed, non-inheritable section of `len` bytes, backed by the paging file.
fn section(len: usize) -> io::Result<OwnedHandle> {
    let len = len as u64;
    // SAFETY: no file, no attributes, no name.
    owned(unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            std::ptr::null(),
            PAGE_READWRITE,
            (len >> 32) as u32,
            len as u32,
            std::ptr::null(),
        )
    })
}

/// Maps `len` bytes of section `s`, read and write.
fn view(s: &OwnedHandle, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a section handle we hold, at least `len` bytes long.
    let v = unsafe { MapViewOfFile(raw(s), FILE_MAP_ALL_ACCESS, 0, 0, len) };
    NonNull::new(v.Value.cast()).ok_or_else(io::Error::last_os_error)
}

/// A private mapping of `len` zeroed bytes (for the fuzz targets): a section of its own, whose
/// handle is closed at once (the view keeps it).
pub(crate) fn map_private(len: usize) -> NonNull<u8> {
    let s = section(len).unwrap_or_else(|e| panic!("CreateFileMappingW: {e}"));
    view(&s, len).unwrap_or_else(|e| panic!("MapViewOfFile: {e}"))
}

/// Unmaps what [`SharedMemory::map`] or [`map_private`] mapped.
///
/// # Safety
/// `ptr` is a mapping of this module's, not used again.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, _len: usize) {
    let v = MEMORY_MAPPED_VIEW_ADDRESS {
        Value: ptr.as_ptr().cast(),
    };
    // SAFETY: the caller's promise.
    unsafe { UnmapViewOfFile(v) };
}
