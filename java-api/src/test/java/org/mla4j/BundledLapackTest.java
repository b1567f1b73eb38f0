package org.mla4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.linalg.Linalg;

/**
 * Conversion's LAPACK/BLAS comes from the OpenBLAS that the org.bytedeco:openblas dependency ships, extracted to the
 * per-user, per-version cache by {@link NativeLibrary#prepareLapack()}; MLA4J_LAPACK overrides it. These tests check
 * which file the native library actually loaded (as the dynamic loader reports it, and as /proc/self/maps shows),
 * so they cannot pass merely because the machine has a system OpenBLAS.
 */
class BundledLapackTest {

    private static final String OPENBLAS = "libopenblas.so.0";

    /** The expected place of the bundled OpenBLAS: surefire sets XDG_CACHE_HOME to target/test-cache (java-api/pom.xml). */
    private static Path cachedOpenblas(Path cacheRoot) {
        return cacheRoot.resolve("mla4j").resolve(NativeLibrary.apiVersion()).resolve("openblas").resolve(OPENBLAS);
    }

    @Test
    void conversionLoadsTheBundledOpenblasFromTheCacheUnlessMla4jLapackIsSet() throws IOException {
        Linalg.requireAvailable();
        Path loaded = Path.of(Linalg.library());
        String override = System.getenv(NativeLibrary.LAPACK_ENV);
        if (override != null && !override.isEmpty()) {
            // Only the override may be loaded then (developers set it; CI does not).
            assertEquals(Path.of(override).toRealPath(), loaded.toRealPath(), "MLA4J_LAPACK=" + override);
            return;
        }
        Path expected = cachedOpenblas(Path.of(System.getenv("XDG_CACHE_HOME")));
        assertEquals(expected, loaded);
        assertArrayEquals(resource(OPENBLAS), Files.readAllBytes(loaded));
        assertTrue(NativeLibrary.lapackProblem().isEmpty(), NativeLibrary.lapackProblem().toString());

        // What the process really mapped: OpenBLAS and its gfortran runtime from the cache, and no other copy.
        List<String> mapped = mappedFiles(List.of("libopenblas", "libgfortran"));
        assertTrue(mapped.contains(expected.toString()), "not mapped: " + expected + " in " + mapped);
        assertTrue(mapped.contains(expected.resolveSibling("libgfortran.so.5").toString()), mapped.toString());
        for (String file : mapped) assertTrue(file.startsWith(expected.getParent().toString()), "also mapped: " + file);
    }

    @Test
    void extractionWritesTheWholeBundleOnceAndNothingElse(@TempDir Path cacheRoot) throws IOException {
        var options = new NativeLibrary.Options(null, null, "/unused", cacheRoot, NativeLibrary.apiVersion());
        NativeLibrary.Lapack first = NativeLibrary.extractLapack(options);
        assertNull(first.problem());
        Path lib = cachedOpenblas(cacheRoot);
        assertEquals(lib, first.bundled());

        // libopenblas.so.0 finds its runtime beside it (RUNPATH $ORIGIN); the JNI libraries stay in the jar.
        List<Path> files = list(lib.getParent());
        assertEquals(NativeLibrary.OPENBLAS_FILES.stream().sorted().map(lib::resolveSibling).toList(), files);
        for (Path f : files) assertArrayEquals(resource(f.getFileName().toString()), Files.readAllBytes(f), f.toString());

        Object inode = Files.readAttributes(lib, BasicFileAttributes.class).fileKey();
        assertEquals(lib, NativeLibrary.extractLapack(options).bundled());
        assertEquals(inode, Files.readAttributes(lib, BasicFileAttributes.class).fileKey(), "an identical file was rewritten");
    }

    @Test
    void anUnwritableCacheIsReportedWithTheFix(@TempDir Path tmp) throws IOException {
        Path notADirectory = Files.writeString(tmp.resolve("cache"), "a file where the cache directory should be");
        var options = new NativeLibrary.Options(null, null, "/unused", notADirectory, NativeLibrary.apiVersion());
        NativeLibrary.Lapack result = NativeLibrary.extractLapack(options);
        assertNull(result.bundled());
        assertTrue(result.problem().startsWith("the bundled OpenBLAS was not used: cannot extract "), result.problem());
        assertTrue(result.problem().contains(" to " + notADirectory.resolve("mla4j")), result.problem());
        assertTrue(result.problem().contains("set XDG_CACHE_HOME to a writable directory"), result.problem());
    }

    @Test
    void mla4jLapackIsTheOnlyLibraryTriedWhenSet(@TempDir Path tmp) throws Exception {
        // A copy of the bundle elsewhere, named by MLA4J_LAPACK: that copy is loaded and nothing is extracted.
        Path copy = Files.createDirectories(tmp.resolve("my-lapack"));
        for (String f : NativeLibrary.OPENBLAS_FILES) Files.write(copy.resolve(f), resource(f));
        Path cache = tmp.resolve("cache");
        String out = Probe.run(Map.of(NativeLibrary.LAPACK_ENV, copy.resolve(OPENBLAS).toString(), "XDG_CACHE_HOME",
                cache.toString()));
        assertEquals("library " + copy.resolve(OPENBLAS), out);
        assertFalse(Files.exists(cachedOpenblas(cache).getParent()), "extracted although MLA4J_LAPACK is set");

        // A wrong MLA4J_LAPACK fails, naming it, and does not fall back to the bundled or a system library.
        String missing = tmp.resolve("no/such/liblapack.so").toString();
        out = Probe.run(Map.of(NativeLibrary.LAPACK_ENV, missing, "XDG_CACHE_HOME", cache.toString()));
        assertTrue(out.startsWith("failed "), out);
        assertTrue(out.contains("MLA4J_LAPACK=" + missing + ": "), out);
        assertTrue(out.contains("No such file"), out);
        assertFalse(out.contains("[libopenblas.so.0"), out);
        assertFalse(out.contains("openblas/" + OPENBLAS), out);
    }

    @Test
    void withoutTheBundleTheSystemLibrariesAreTriedAndTheErrorSaysWhy(@TempDir Path tmp) throws Exception {
        Path notADirectory = Files.writeString(tmp.resolve("cache"), "not a directory");
        String out = Probe.run(Map.of("XDG_CACHE_HOME", notADirectory.toString()));
        if (out.startsWith("library ")) {
            // This machine has a system LAPACK: it was the fallback.
            assertFalse(out.contains(notADirectory.toString()), out);
            return;
        }
        assertTrue(out.startsWith("failed "), out);
        assertTrue(out.contains("[libopenblas.so.0: ") && out.contains("[liblapack.so.3: "), out);
        assertTrue(out.contains("the bundled OpenBLAS was not used: cannot extract "), out);
        assertTrue(out.contains(notADirectory.toString()), out);
        assertTrue(out.contains("MLA4J_ERR_UNSUPPORTED"), out);
    }

    private static byte[] resource(String file) throws IOException {
        String name = NativeLibrary.openblasResourceDir() + file;
        try (InputStream in = BundledLapackTest.class.getResourceAsStream(name)) {
            assertNotNull(in, name + " is not in the class path (org.bytedeco:openblas:" + NativeLibrary.platform() + ")");
            return in.readAllBytes();
        }
    }

    /** Files mapped into this process whose name contains one of names (from /proc/self/maps). */
    private static List<String> mappedFiles(List<String> names) throws IOException {
        List<String> files = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            int slash = line.indexOf('/');
            if (slash < 0) continue;
            String file = line.substring(slash);
            if (names.stream().anyMatch(file::contains) && !files.contains(file)) files.add(file);
        }
        return files;
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    /**
     * Child JVM with its own environment (MLA4J_LAPACK is read once per process by the native library): loads this
     * build's libmla4j and prints "library PATH" (Linalg.library()) or "failed MESSAGE".
     */
    static final class Probe {
        public static void main(String[] args) {
            try {
                Linalg.requireAvailable();
                System.out.println("library " + Linalg.library());
            } catch (Mla4jException e) {
                System.out.println("failed " + e.getMessage().replace('\n', ' '));
            }
        }

        static String run(Map<String, String> env) throws IOException, InterruptedException {
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-D" + NativeLibrary.PATH_PROPERTY + "=" + NativeLibrary.load(),
                    "-cp", System.getProperty("java.class.path"), Probe.class.getName()).redirectErrorStream(true);
            pb.environment().remove(NativeLibrary.LAPACK_ENV);
            pb.environment().remove(NativeLibrary.PATH_ENV);
            pb.environment().putAll(env);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            return out.lines().filter(l -> l.startsWith("library ") || l.startsWith("failed ")).findFirst()
                    .orElseThrow(() -> new AssertionError("the child JVM printed no result: " + out));
        }
    }
}
