let s = "";
process.stdin.on("data", d => s += d);
process.stdin.on("end", () => console.log("hello " + 2 * parseInt(s)));
