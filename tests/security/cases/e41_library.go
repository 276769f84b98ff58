// E41: a compile step that succeeds without producing a program (a package
// other than main): the run step cannot execute ./main, the program's doing
// (runtime_error 126), never an internal error that moat would retry.
package library

func F() int { return 42 }
