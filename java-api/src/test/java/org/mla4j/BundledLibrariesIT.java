package org.mla4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

import org.junit.jupiter.api.Test;

/**
 * The built java-api jar (run by failsafe after `package`): it carries the native library of every platform the
 * build could make, at the resource path the loader picks for each {@code os.arch}, and each file is an ELF shared
 * library for that processor. The x86-64 library is always built here; the ARM64 one whenever the cross compiler
 * aarch64-linux-gnu-gcc is installed (CMakeLists.txt), and CI demands it with MLA4J_REQUIRE_AARCH64=1.
 */
class BundledLibrariesIT {

    /** ELF e_machine values (the ELF specification's processor numbers). */
    static final int EM_X86_64 = 62;
    static final int EM_AARCH64 = 183;

    static Path jar() {
        String p = System.getProperty("mla4j.jar");
        assertNotNull(p, "failsafe sets mla4j.jar to the built jar (java-api/pom.xml)");
        Path jar = Path.of(p);
        assertTrue(Files.isRegularFile(jar), jar + " was not built");
        return jar;
    }

    /** Every native/ file in the jar, with its bytes. */
    static Map<String, byte[]> nativeEntries(Path jar) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (JarFile jf = new JarFile(jar.toFile())) {
            for (JarEntry e : java.util.Collections.list(jf.entries())) {
                if (e.isDirectory() || !e.getName().startsWith("native/")) continue;
                try (InputStream in = jf.getInputStream(e)) {
                    out.put(e.getName(), in.readAllBytes());
                }
            }
        }
        return out;
    }

    /** e_machine of a little-endian ELF64 shared object (e_type ET_DYN), or -1 when it is not one. */
    static int elfMachine(byte[] b) {
        if (b.length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F') return -1;
        if (b[4] != 2 || b[5] != 1) return -1;                       // ELFCLASS64, little-endian
        if ((b[16] & 0xff | (b[17] & 0xff) << 8) != 3) return -1;   // ET_DYN
        return b[18] & 0xff | (b[19] & 0xff) << 8;
    }

    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    @Test
    void theJarCarriesTheLibraryOfEveryBuiltPlatformWhereTheLoaderLooks() throws IOException {
        Map<String, byte[]> entries = nativeEntries(jar());
        // What os.arch the loader maps to which entry: the x86-64 JVM says amd64, the ARM64 one aarch64.
        String x86 = NativeLibrary.bundledResource(NativeLibrary.platform("Linux", "amd64")).substring(1);
        String arm = NativeLibrary.bundledResource(NativeLibrary.platform("Linux", "aarch64")).substring(1);
        assertEquals("native/linux-x86_64/libmla4j.so", x86);
        assertEquals("native/linux-aarch64/libmla4j.so", arm);

        // The build machine's own library is always there; an x86-64 build adds ARM64's when it can cross-compile.
        boolean hostIsX86 = NativeLibrary.platform().equals("linux-x86_64");
        List<String> expected = new ArrayList<>();
        String host = hostIsX86 ? x86 : arm;
        expected.add(host);
        assertEquals(hostIsX86 ? EM_X86_64 : EM_AARCH64, elfMachine(entries.getOrDefault(host, new byte[0])),
                host + " is not a library for " + NativeLibrary.platform());

        boolean crossCompiler = onPath("aarch64-linux-gnu-gcc");
        boolean required = "1".equals(System.getenv("MLA4J_REQUIRE_AARCH64"));
        if (hostIsX86 && (crossCompiler || required)) {
            expected.add(arm);
            assertEquals(EM_AARCH64, elfMachine(entries.getOrDefault(arm, new byte[0])),
                    arm + " is not an aarch64 library (cross compiler on PATH: " + crossCompiler + ")");
        }
        // Nothing else under native/, and without the cross compiler no stale ARM64 library either.
        assertEquals(expected.stream().sorted().toList(), List.copyOf(entries.keySet()), "native files in the jar");
    }
}
