// A compile that runs for minutes: 64 constant expressions, each a nested
// loop (every loop under GCC's per-loop limit of 262144 iterations) that runs
// until GCC's per-evaluation operation limit (2^25 here, seconds of CPU each)
// and fails. The compile step's CPU limit (10 s) ends the compile first:
// compile_error, with the compile step's verdict time_limit.
constexpr unsigned long long spin(unsigned long long seed)
{
    unsigned long long x = seed;
    for (unsigned long long i = 0; i < 200000; i++)
        for (unsigned long long j = 0; j < 200000; j++)
            x += i ^ (j >> 3);
    return x;
}

constexpr unsigned long long v0 = spin(0);
constexpr unsigned long long v1 = spin(1);
constexpr unsigned long long v2 = spin(2);
constexpr unsigned long long v3 = spin(3);
constexpr unsigned long long v4 = spin(4);
constexpr unsigned long long v5 = spin(5);
constexpr unsigned long long v6 = spin(6);
constexpr unsigned long long v7 = spin(7);
constexpr unsigned long long v8 = spin(8);
constexpr unsigned long long v9 = spin(9);
constexpr unsigned long long v10 = spin(10);
constexpr unsigned long long v11 = spin(11);
constexpr unsigned long long v12 = spin(12);
constexpr unsigned long long v13 = spin(13);
constexpr unsigned long long v14 = spin(14);
constexpr unsigned long long v15 = spin(15);
constexpr unsigned long long v16 = spin(16);
constexpr unsigned long long v17 = spin(17);
constexpr unsigned long long v18 = spin(18);
constexpr unsigned long long v19 = spin(19);
constexpr unsigned long long v20 = spin(20);
constexpr unsigned long long v21 = spin(21);
constexpr unsigned long long v22 = spin(22);
constexpr unsigned long long v23 = spin(23);
constexpr unsigned long long v24 = spin(24);
constexpr unsigned long long v25 = spin(25);
constexpr unsigned long long v26 = spin(26);
constexpr unsigned long long v27 = spin(27);
constexpr unsigned long long v28 = spin(28);
constexpr unsigned long long v29 = spin(29);
constexpr unsigned long long v30 = spin(30);
constexpr unsigned long long v31 = spin(31);
constexpr unsigned long long v32 = spin(32);
constexpr unsigned long long v33 = spin(33);
constexpr unsigned long long v34 = spin(34);
constexpr unsigned long long v35 = spin(35);
constexpr unsigned long long v36 = spin(36);
constexpr unsigned long long v37 = spin(37);
constexpr unsigned long long v38 = spin(38);
constexpr unsigned long long v39 = spin(39);
constexpr unsigned long long v40 = spin(40);
constexpr unsigned long long v41 = spin(41);
constexpr unsigned long long v42 = spin(42);
constexpr unsigned long long v43 = spin(43);
constexpr unsigned long long v44 = spin(44);
constexpr unsigned long long v45 = spin(45);
constexpr unsigned long long v46 = spin(46);
constexpr unsigned long long v47 = spin(47);
constexpr unsigned long long v48 = spin(48);
constexpr unsigned long long v49 = spin(49);
constexpr unsigned long long v50 = spin(50);
constexpr unsigned long long v51 = spin(51);
constexpr unsigned long long v52 = spin(52);
constexpr unsigned long long v53 = spin(53);
constexpr unsigned long long v54 = spin(54);
constexpr unsigned long long v55 = spin(55);
constexpr unsigned long long v56 = spin(56);
constexpr unsigned long long v57 = spin(57);
constexpr unsigned long long v58 = spin(58);
constexpr unsigned long long v59 = spin(59);
constexpr unsigned long long v60 = spin(60);
constexpr unsigned long long v61 = spin(61);
constexpr unsigned long long v62 = spin(62);
constexpr unsigned long long v63 = spin(63);

int main()
{
    return (int)(v0 & 1);
}
