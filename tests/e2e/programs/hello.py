print("hello", 2 * int(input()))
