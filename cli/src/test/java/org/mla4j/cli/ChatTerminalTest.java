package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mla4j.Fixtures;

/**
 * Acceptance 6: `mla4j chat` in a real terminal. tmux gives it a pseudo-terminal; the test types two turns and
 * /reset into it and reads the screen. Skipped (saying so) without tmux; every wait is bounded.
 */
class ChatTerminalTest {
    /** llama2.c's published greedy continuation of "Once upon a time" (fixtures' SOURCES.md). */
    private static final String CONTINUATION = ", there was a little girl named Lily. She loved to play outside in the "
            + "park. One day, she saw a big, red ball.";
    private static final long WAIT_MS = 30_000;

    private final String server = "mla4j-chat-test-" + ProcessHandle.current().pid();

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void twoTurnsAndResetOnTheScreen() throws Exception {
        assumeTrue(tmuxAvailable(), "tmux not found on PATH: skipping the terminal test of `mla4j chat`");
        Path model = Fixtures.require("models/stories260K.gguf");
        String java = ProcessHandle.current().info().command().orElse("java");
        String command = String.join(" ", quote(java), "--enable-native-access=ALL-UNNAMED", "-cp",
                quote(System.getProperty("java.class.path")), "org.mla4j.cli.Main", "chat", "-m", quote(model.toString()),
                "--temp", "0", "-n", "20", "-t", "1");
        try {
            tmux("new-session", "-d", "-s", "chat", "-x", "160", "-y", "50", command);
            String screen = waitFor(s -> s.contains("no chat template") && s.stripTrailing().endsWith(">"));
            assertTrue(screen.contains("/reset starts over"), screen);

            tmux("send-keys", "-t", "chat", "Once upon a time", "Enter");
            screen = waitFor(s -> s.contains("[max tokens]") && s.stripTrailing().endsWith(">"));
            String firstReply = lineAfter(screen, "> Once upon a time");
            assertTrue(firstReply.length() > 40 && CONTINUATION.startsWith(firstReply), screen); // 20 tokens of it

            tmux("send-keys", "-t", "chat", "The cat", "Enter");
            screen = waitFor(s -> count(s, "[max tokens]") == 2 && s.stripTrailing().endsWith(">"));
            String secondReply = lineAfter(screen, "> The cat");
            assertTrue(!secondReply.isBlank(), screen);

            tmux("send-keys", "-t", "chat", "/reset", "Enter");
            waitFor(s -> s.contains("[conversation reset]") && s.stripTrailing().endsWith(">"));
            tmux("send-keys", "-t", "chat", "Once upon a time", "Enter");
            // After the reset the model sees only the new message: the first reply again, not a third turn.
            screen = waitFor(s -> count(s, "[max tokens]") == 3 && s.stripTrailing().endsWith(">"));
            assertEquals(2, count(screen, "> Once upon a time\n" + firstReply + "\n"), screen);

            tmux("send-keys", "-t", "chat", "/exit", "Enter");
        } finally {
            tmuxQuietly("kill-server");
        }
    }

    private String waitFor(Predicate<String> ready) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        String screen = "";
        while (System.currentTimeMillis() < deadline) {
            screen = tmux("capture-pane", "-p", "-J", "-t", "chat");
            if (ready.test(screen)) {
                return screen;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the screen did not reach the expected state in " + WAIT_MS + " ms:\n" + screen);
    }

    private static String lineAfter(String screen, String line) {
        int at = screen.indexOf(line + "\n");
        if (at < 0) return "";
        int start = at + line.length() + 1;
        int end = screen.indexOf('\n', start);
        return screen.substring(start, end < 0 ? screen.length() : end);
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int at = s.indexOf(what); at >= 0; at = s.indexOf(what, at + what.length())) n++;
        return n;
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static boolean tmuxAvailable() {
        try {
            Process p = new ProcessBuilder("tmux", "-V").redirectErrorStream(true).start();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private String tmux(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("tmux", "-L", server));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("tmux " + String.join(" ", args) + " did not finish in 10 s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "tmux " + args[0] + ": " + out);
        return out;
    }

    private void tmuxQuietly(String... args) {
        try {
            tmux(args);
        } catch (Exception | AssertionError e) {
            // the server may already be gone
        }
    }
}
