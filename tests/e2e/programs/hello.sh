read x
echo "hello $((2 * x))"
