// L4: a shell started from Java is confined like the program itself.
import java.io.ByteArrayOutputStream;
import java.io.InputStream;

public class Main {
    static String drain(InputStream in) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toString("UTF-8").trim();
    }

    public static void main(String[] args) throws Exception {
        Process p = Runtime.getRuntime().exec(new String[] {"sh", "-c", "id -u; cat /etc/shadow"});
        String out = drain(p.getInputStream());
        String err = drain(p.getErrorStream());
        System.out.println("child stdout: " + out);
        System.out.println("child stderr: " + err);
        System.out.println("child exit: " + p.waitFor());
    }
}
