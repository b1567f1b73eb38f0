package org.mla4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.mla4j.gguf.GgufFile;

/**
 * Runs a writer in a child JVM and SIGKILLs it in the middle of writing: once the writer's temporary file (named
 * {@code .TARGET.PID.HEX.tmp} beside the target, see GgufWriter) holds at least {@code minBytes}. Then the target
 * must hold exactly what it held before: nothing, or the previous complete file. Shared with the CLI's tests.
 */
public final class KillMidWrite {

    /** What a kill left behind. */
    public record Outcome(boolean killedMidWrite, int exitCode, List<Path> leftoverTemps) {
    }

    private KillMidWrite() {
    }

    /**
     * Starts {@code java -cp <this JVM's class path> mainClass args...}, kills it with SIGKILL while its
     * temporary file for {@code target} is being written, and checks the target against what it held before.
     * Retries (up to 3 times) when the child finished before it could be caught mid-write.
     */
    public static Outcome killAndCheck(Path target, long minBytes, String mainClass, String... args) throws Exception {
        byte[] before = Files.exists(target) ? Files.readAllBytes(target) : null;
        for (int attempt = 0; attempt < 3; attempt++) {
            Outcome o = killOnce(target, minBytes, mainClass, args);
            if (before == null) {
                assertFalse(Files.exists(target), "the target appeared although the writer was killed: " + target);
            } else {
                assertTrue(Files.exists(target), "the previous file disappeared: " + target);
                assertEquals(-1L, mismatch(target, before), "the previous file was changed: " + target);
                try (GgufFile f = GgufFile.open(target)) { // and it is still a valid GGUF file
                    assertTrue(f.tensors().size() > 0);
                }
            }
            for (Path t : o.leftoverTemps()) Files.deleteIfExists(t);
            if (o.killedMidWrite()) return o;
        }
        throw new AssertionError("the writer finished every time before it could be killed mid-write; use a larger file");
    }

    private static Outcome killOnce(Path target, long minBytes, String mainClass, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        boolean killed = false;
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (p.isAlive() && System.nanoTime() < deadline) {
            Optional<Path> temp = temps(target).stream().findFirst();
            if (temp.isPresent() && size(temp.get()) >= minBytes) {
                p.destroyForcibly(); // SIGKILL on Linux: no shutdown hook, no finally block runs
                killed = true;
                break;
            }
            Thread.onSpinWait();
        }
        p.waitFor();
        if (!killed && p.isAlive()) throw new AssertionError("the writer neither finished nor started writing");
        int code = p.exitValue();
        return new Outcome(killed && code == 137, code, temps(target));
    }

    /** The writer's temporary files for target (none survive a completed write). */
    static List<Path> temps(Path target) throws IOException {
        String prefix = "." + target.getFileName() + ".";
        try (Stream<Path> s = Files.list(target.toAbsolutePath().getParent())) {
            return s.filter(f -> f.getFileName().toString().startsWith(prefix) && f.toString().endsWith(".tmp")).toList();
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1; // renamed or deleted between list and size
        }
    }

    private static long mismatch(Path file, byte[] expected) throws IOException {
        byte[] got = Files.readAllBytes(file);
        int n = Math.min(got.length, expected.length);
        for (int i = 0; i < n; i++) if (got[i] != expected[i]) return i;
        return got.length == expected.length ? -1 : n;
    }
}
