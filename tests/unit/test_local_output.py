"""The local stack's loops print from threads of their own: each line reaches the terminal whole."""

from __future__ import annotations

import threading

from lab.local import say


class Recording:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_a_line_and_its_newline_are_one_write_whichever_thread_prints() -> None:
    stream = Recording()
    event = "=" * 78 + "\nSubject: [certwatch] ...\n" + "=" * 78
    threads = [
        threading.Thread(target=say, args=(event if n % 2 else f"[checker] checked {n} target(s)", stream))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stream.writes) == sorted(
        [event + "\n"] * 4 + [f"[checker] checked {n} target(s)\n" for n in (0, 2, 4, 6)]
    )
