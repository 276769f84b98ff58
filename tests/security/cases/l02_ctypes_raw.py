# L2: the filter does not depend on libc: unshare through ctypes' syscall(),
# and keyctl from hand-written machine code in an RWX mapping.
import ctypes
import mmap

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
r = libc.syscall(272, 0x10000000)  # unshare(CLONE_NEWUSER)
print("ctypes unshare(CLONE_NEWUSER): %d errno=%d" % (r, ctypes.get_errno()))

# mov eax, 250 (keyctl); xor edi, edi; mov esi, -3; syscall; ret
code = bytes([0xb8, 0xfa, 0x00, 0x00, 0x00, 0x31, 0xff, 0xbe, 0xfd, 0xff, 0xff, 0xff,
              0x0f, 0x05, 0xc3])
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
fn = ctypes.CFUNCTYPE(ctypes.c_long)(addr)
print("shellcode keyctl: %d" % fn())
# mov eax, 272 (unshare); mov edi, 0x10000000; syscall; ret
code = bytes([0xb8, 0x10, 0x01, 0x00, 0x00, 0xbf, 0x00, 0x00, 0x00, 0x10, 0x0f, 0x05, 0xc3])
m.seek(0)
m.write(code)
print("shellcode unshare(CLONE_NEWUSER): %d" % fn())
