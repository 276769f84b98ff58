package main

import "fmt"

func main() {
	var x int
	fmt.Scan(&x)
	fmt.Printf("hello %d\n", 2*x)
}
