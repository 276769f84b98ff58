#include <bits/stdc++.h>
int main(){int x; std::cin >> x; std::cout << "hello " << 2*x << "\n";}
