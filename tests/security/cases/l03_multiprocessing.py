# L3: legitimate parallel Python must work: a process pool (semaphores in
# /dev/shm, socketpairs), a queue, and threads.
import multiprocessing as mp
import threading


def square(x):
    return x * x


def main():
    with mp.Pool(4) as pool:
        print("pool sum=%d" % sum(pool.map(square, range(100))))
    q = mp.Queue()
    ps = [mp.Process(target=q.put, args=(i,)) for i in range(4)]
    for p in ps:
        p.start()
    got = sorted(q.get(timeout=20) for _ in ps)
    for p in ps:
        p.join()
    print("queue got=%s" % got)
    out = [0] * 8

    def work(i):
        out[i] = sum(range(i * 1000))

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads sum=%d" % sum(out))


if __name__ == "__main__":
    main()
