local x = io.read("n")
print("hello " .. 2 * x)
