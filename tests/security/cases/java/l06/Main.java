// L6: a JVM with 20 threads of its own runs fine with the default limits
// (cgroup memory, not an address-space limit; 64 processes and threads).
public class Main {
    public static void main(String[] args) throws Exception {
        Thread[] ts = new Thread[20];
        long[] out = new long[20];
        for (int i = 0; i < 20; i++) {
            final int k = i;
            ts[i] = new Thread(() -> {
                long s = 0;
                for (int j = 0; j <= 100000; j++)
                    s += j % (k + 1);
                out[k] = s;
            });
            ts[i].start();
        }
        long sum = 0;
        for (int i = 0; i < 20; i++) {
            ts[i].join();
            sum += out[i];
        }
        System.out.println("threads=20 sum=" + sum);
    }
}
