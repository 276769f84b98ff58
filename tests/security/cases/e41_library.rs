// E41: a compile step that succeeds without producing a program (a library
// crate): the run step cannot execute ./main. That is the program's doing,
// a runtime_error (126, as a shell reports it), never moat's internal
// error, which would be retried.
#![crate_type = "lib"]
pub fn f() -> u32 {
    42
}
