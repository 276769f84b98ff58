import java.util.Scanner;

public class Hello {
    public static void main(String[] args) {
        int x = new Scanner(System.in).nextInt();
        System.out.println("hello " + 2 * x);
    }
}
