/* Debian 12's Wine 8 has no bcryptprimitives.dll ProcessPrng, which Rust's std imports (Rust
 * 1.78+), so no Rust program loads under it. This DLL exports ProcessPrng by calling advapi32's
 * SystemFunction036 (RtlGenRandom), which Wine has. Built by .ci/install-wine; CI only. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG len);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
