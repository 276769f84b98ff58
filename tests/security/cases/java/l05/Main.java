// L5: an array larger than the JVM can ever make: OutOfMemoryError at once,
// uncaught, so the JVM exits 1 (runtime_error) without touching memory.
public class Main {
    public static void main(String[] args) {
        System.out.println("allocating");
        long[] a = new long[Integer.MAX_VALUE];
        System.out.println("allocated " + a.length);
    }
}
