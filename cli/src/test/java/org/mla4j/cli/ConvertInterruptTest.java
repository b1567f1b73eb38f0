package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;

/**
 * Ctrl-C during `mla4j convert` (SIGTERM/SIGINT: the JVM runs its exit hooks): neither the output nor any
 * temporary file (the writer's, the search's candidates, the refit's) is left behind.
 */
@Timeout(180)
class ConvertInterruptTest {
    @TempDir
    Path tmp;

    @Test
    void interruptedConversionLeavesNothing() throws Exception {
        String stories = Fixtures.require("models/stories260K.gguf").toString();
        Path javaTmp = Files.createDirectories(tmp.resolve("java-tmp"));
        Path out = tmp.resolve("out.gguf");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + javaTmp, "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "convert", stories, "-o", out.toString(),
                "--method", "mha2mla", "--kv-cache", "32", "--search", "on", "-t", "1"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + 120_000_000_000L;
        // Wait until the search has written candidates (temporary GGUF files), then interrupt.
        while (p.isAlive() && System.nanoTime() < deadline && count(javaTmp) == 0) Thread.sleep(20);
        assertTrue(p.isAlive(), "the conversion ended before it could be interrupted");
        Thread.sleep(300);
        p.destroy(); // SIGTERM, like Ctrl-C for the JVM: exit hooks run
        p.waitFor();
        assertFalse(Files.exists(out), "output written although interrupted");
        assertTrue(count(javaTmp) == 0, "temporary files left in " + javaTmp);
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "writer temp left");
        }
    }

    private static long count(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().startsWith("mla4j-")).count();
        }
    }
}
