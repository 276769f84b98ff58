// Infinite template recursion: the compiler gives up at its instantiation
// depth limit: compile_error, and the program never runs.
template <int N> struct Bomb {
    static const int value = Bomb<N + 1>::value + 1;
};

int main()
{
    return Bomb<0>::value;
}
