package org.mla4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.bindings.Mla4jNative;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NativeLibraryTest {

    private static final String LIB = System.mapLibraryName("mla4j");
    private static final String BUNDLED = "/native/" + NativeLibrary.platform() + "/" + LIB;

    @Test
    void platformNamesTheResourceDirectoryMavenFills() {
        // CMake writes the build machine's library to native/<platform> (java-api/pom.xml, native/CMakeLists.txt).
        String arch = System.getProperty("os.arch");
        String expected = arch.equals("amd64") || arch.equals("x86_64") ? "linux-x86_64" : "linux-aarch64";
        assertEquals(expected, NativeLibrary.platform());
        assertTrue(NativeLibrary.class.getResource(BUNDLED) != null, BUNDLED + " is not in the class path");
    }

    @Test
    void osArchPicksTheBundledLibrary() {
        // The values JVMs report: OpenJDK on Linux says amd64 or aarch64; some JVMs and macOS builds x86_64 or arm64.
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "amd64"));
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "x86_64"));
        assertEquals("linux-aarch64", NativeLibrary.platform("Linux", "aarch64"));
        assertEquals("linux-aarch64", NativeLibrary.platform("Linux", "arm64"));
        assertEquals("macos-aarch64", NativeLibrary.platform("Mac OS X", "aarch64"));
        assertEquals("windows-x86_64", NativeLibrary.platform("Windows 11", "amd64"));
        assertEquals("linux-riscv64", NativeLibrary.platform("Linux", "riscv64"));
        assertEquals(List.of("linux-x86_64", "linux-aarch64"), NativeLibrary.SUPPORTED);
        for (String p : NativeLibrary.SUPPORTED) assertEquals(null, NativeLibrary.unsupportedPlatformMessage(p));
    }

    @Test
    void anUnsupportedPlatformGetsOneLineNamingItAndTheSupportedOnes(@TempDir Path tmp) {
        for (String[] osArch : new String[][] {{"Mac OS X", "aarch64"}, {"Linux", "riscv64"}, {"Windows 11", "amd64"},
                {"Linux", "arm"}}) {
            String platform = NativeLibrary.platform(osArch[0], osArch[1]);
            var options = new NativeLibrary.Options(null, null, "/native/" + platform + "/" + LIB, tmp,
                    NativeLibrary.apiVersion(), platform);
            String msg = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.load(options)).getMessage();
            assertEquals("mla4j: no native library for " + platform + " in this jar (it supports linux-x86_64 and "
                    + "linux-aarch64); build libmla4j for " + platform + " (see the README) and set MLA4J_LIBRARY_PATH to it",
                    msg);
            assertTrue(!msg.contains("\n"), msg);
        }
    }

    @Test
    void anOverrideStillWorksOnAnUnsupportedPlatform(@TempDir Path tmp) throws IOException {
        // A Mac user who built libmla4j points MLA4J_LIBRARY_PATH at it: the override is tried (here: a missing
        // file, so the usual list of candidates explains the failure instead of the one-line platform error).
        Path missing = tmp.resolve("libmla4j.dylib");
        var options = new NativeLibrary.Options(null, missing.toString(), "/native/macos-aarch64/" + LIB, tmp,
                NativeLibrary.apiVersion(), "macos-aarch64");
        String msg = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.load(options)).getMessage();
        assertTrue(msg.contains("2. environment variable MLA4J_LIBRARY_PATH=" + missing + ": no such file"), msg);
    }

    @Test
    void failureListsEveryCandidateAndWhy(@TempDir Path tmp) throws IOException {
        Path notElf = tmp.resolve("libmla4j.so");
        Files.writeString(notElf, "this is a text file, not a shared object, and it is longer than an ELF header\n");
        Path missing = tmp.resolve("no/such/libmla4j.so");
        var options = new NativeLibrary.Options(notElf.toString(), missing.toString(), "/native/none-none/" + LIB,
                tmp, NativeLibrary.apiVersion());

        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.load(options));
        String msg = e.getMessage();
        assertTrue(msg.contains("1. system property mla4j.library.path=" + notElf + ": not an ELF shared library"), msg);
        assertTrue(msg.contains("2. environment variable MLA4J_LIBRARY_PATH=" + missing + ": no such file"), msg);
        assertTrue(msg.contains("3. bundled resource /native/none-none/" + LIB + ": not in the class path"), msg);
    }

    @Test
    void dlopenReasonIsReported(@TempDir Path tmp) throws IOException {
        // ELF magic, then nothing: dlopen rejects it (HotSpot prints a stack-guard warning for it first: expected).
        Path truncated = tmp.resolve("libmla4j.so");
        Files.write(truncated, new byte[] {0x7f, 'E', 'L', 'F'});
        var options = new NativeLibrary.Options(null, truncated.toString(), "/native/none-none/" + LIB, tmp, "0.0.0");

        String msg = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.load(options)).getMessage();
        // glibc's reason for a file shorter than an ELF header
        assertTrue(msg.contains("2. environment variable MLA4J_LIBRARY_PATH=" + truncated + ": "), msg);
        assertTrue(msg.contains("file too short"), msg);
    }

    @Test
    void unsetOverridesAndDirectoriesAreReported(@TempDir Path tmp) {
        var options = new NativeLibrary.Options(tmp.toString(), null, "/native/none-none/" + LIB, tmp, "0.0.0");

        String msg = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.load(options)).getMessage();
        assertTrue(msg.contains("1. system property mla4j.library.path=" + tmp + ": not a regular file"), msg);
        assertTrue(msg.contains("2. environment variable MLA4J_LIBRARY_PATH: not set"), msg);
    }

    @Test
    void bundledLibraryIsExtractedToTheVersionedCacheAndLoaded(@TempDir Path cacheRoot) throws Exception {
        String version = NativeLibrary.apiVersion();

        // In a child JVM (LoadBundled): this second copy must stay out of the test JVM.
        String out = LoadBundled.run(cacheRoot, version);
        assertTrue(out.startsWith("loaded "), out);
        Path loaded = Path.of(out.substring("loaded ".length()));

        assertEquals(cacheRoot.resolve("mla4j").resolve(version).resolve(LIB), loaded);
        assertArrayEquals(resourceBytes(BUNDLED), Files.readAllBytes(loaded));
        assertEquals(List.of(loaded), list(loaded.getParent())); // no temporary file left behind
    }

    @Test
    void extractReusesAnIdenticalFileAndReplacesADifferentOne(@TempDir Path dir) throws IOException {
        byte[] bytes = new byte[100_000];
        new Random(42).nextBytes(bytes);

        Path first = NativeLibrary.extract(bytes, dir, LIB);
        Object inode = Files.readAttributes(first, BasicFileAttributes.class).fileKey();
        Path again = NativeLibrary.extract(bytes, dir, LIB);
        assertEquals(first, again);
        assertEquals(inode, Files.readAttributes(again, BasicFileAttributes.class).fileKey(), "identical file rewritten");

        byte[] corrupt = bytes.clone(); // same size, different SHA-256
        corrupt[50_000] ^= 1;
        Files.write(first, corrupt);
        NativeLibrary.extract(bytes, dir, LIB);
        assertArrayEquals(bytes, Files.readAllBytes(first));
        assertNotEquals(inode, Files.readAttributes(first, BasicFileAttributes.class).fileKey(), "not renamed over");

        Files.write(first, new byte[10]); // different size
        NativeLibrary.extract(bytes, dir, LIB);
        assertArrayEquals(bytes, Files.readAllBytes(first));
        assertEquals(List.of(first), list(dir));
    }

    @Test
    void concurrentExtractionsEndWithOneCompleteFile(@TempDir Path dir) throws Exception {
        byte[] bytes = new byte[2_000_000];
        new Random(7).nextBytes(bytes);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) results.add(pool.submit(() -> NativeLibrary.extract(bytes, dir, LIB)));
            for (Future<Path> f : results) assertEquals(dir.resolve(LIB), f.get());
        } finally {
            pool.shutdown();
        }
        assertArrayEquals(bytes, Files.readAllBytes(dir.resolve(LIB)));
        assertEquals(List.of(dir.resolve(LIB)), list(dir));
    }

    @Test
    void loadingTwiceIsHarmlessAndTheBindingsWork() {
        Path first = NativeLibrary.load();
        Path second = NativeLibrary.load();
        assertSame(first, second);
        // Loading the same file again through the uncached path is harmless too.
        assertEquals(first, NativeLibrary.load(new NativeLibrary.Options(first.toString(), null, BUNDLED,
                first.getParent(), NativeLibrary.apiVersion())));

        assertEquals("MLA4J_ERR_FORMAT", Mla4jNative.mla4j_status_name(3).getString(0));
        assertEquals("MLA4J_ERR_UNKNOWN", Mla4jNative.mla4j_status_name(42).getString(0));
    }

    @Test
    void loadUsesXdgCacheHome() {
        // Surefire sets XDG_CACHE_HOME to target/test-cache (java-api/pom.xml).
        Path expectedRoot = Path.of(System.getenv("XDG_CACHE_HOME"));
        Path loaded = NativeLibrary.load();
        assertEquals(expectedRoot.resolve("mla4j").resolve(NativeLibrary.apiVersion()).resolve(LIB), loaded);
    }

    @Test
    void libraryVersionEqualsTheJarVersion() {
        NativeLibrary.load();
        String api = NativeLibrary.apiVersion();
        // The jar's version comes from the pom (resource filtering), the library's from CMake's project().
        assertTrue(api.matches("\\d+\\.\\d+\\.\\d+.*"), "unfiltered version resource: " + api);
        assertEquals(api, Mla4jNative.mla4j_version().getString(0));
    }

    @Test
    void versionMismatchFailsWithBothVersions(@TempDir Path cacheRoot) throws Exception {
        // The library loads before its version is checked: a child JVM, as above.
        String msg = LoadBundled.run(cacheRoot, "9.9.9");
        assertTrue(msg.startsWith("failed "), msg);
        assertTrue(msg.contains("version mismatch"), msg);
        assertTrue(msg.contains("is version " + NativeLibrary.apiVersion() + " but the mla4j Java API is version 9.9.9"), msg);
        assertTrue(msg.contains(cacheRoot.resolve("mla4j/9.9.9/" + LIB).toString()), msg);
    }

    private static byte[] resourceBytes(String name) throws IOException {
        try (InputStream in = NativeLibraryTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    /**
     * Child JVM of the tests that System.load a second copy of the library (extracted to their own cache), which must
     * stay out of the test JVM: with two libmla4j.so there, SymbolLookup.loaderLookup() may bind symbols that later
     * tests look up to either copy, whose globals and thread-local last errors are separate (a failing call's
     * message then reads as empty). Prints "loaded PATH" or "failed MESSAGE".
     */
    static final class LoadBundled {
        public static void main(String[] args) {
            var options = new NativeLibrary.Options(null, null, BUNDLED, Path.of(args[0]), args[1]);
            try {
                System.out.println("loaded " + NativeLibrary.load(options));
            } catch (UnsatisfiedLinkError e) {
                System.out.println("failed " + e.getMessage().replace('\n', ' '));
            }
        }

        /** Runs main in a child JVM; returns its "loaded ..." or "failed ..." line. */
        static String run(Path cacheRoot, String expectedVersion) throws IOException, InterruptedException {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    LoadBundled.class.getName(), cacheRoot.toString(), expectedVersion).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            return out.lines().filter(l -> l.startsWith("loaded ") || l.startsWith("failed ")).findFirst()
                    .orElseThrow(() -> new AssertionError("the child JVM printed no result: " + out));
        }
    }
}
