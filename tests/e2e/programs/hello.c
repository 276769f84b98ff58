#include <stdio.h>
int main(void){int x; if (scanf("%d",&x)!=1) return 1; printf("hello %d\n", 2*x); return 0;}
