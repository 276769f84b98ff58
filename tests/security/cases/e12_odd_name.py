# E12: run from a file whose name is full of shell syntax; the name must
# never reach a shell. Prints the source file names moat gave it.
import os

print("ran")
print("marker files in /box: %d" % sum(1 for n in os.listdir("/box") if n.startswith("pwned")))
