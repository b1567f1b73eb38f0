package org.mla4j;

import org.mla4j.bindings.Mla4jNative;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;

/**
 * Finds and loads the mla4j native library (libmla4j.so), once per JVM.
 *
 * <p>Where it looks, in order:
 * <ol>
 *   <li>the file named by the system property {@value #PATH_PROPERTY};</li>
 *   <li>the file named by the environment variable {@value #PATH_ENV};</li>
 *   <li>the library bundled in this jar under {@code /native/<os>-<arch>/} ({@link #SUPPORTED}: linux-x86_64 and
 *       linux-aarch64, picked by {@code os.name} and {@code os.arch}), extracted to
 *       {@code $XDG_CACHE_HOME/mla4j/<version>/} (default {@code ~/.cache/mla4j/<version>/}).</li>
 * </ol>
 * On a platform the jar has no library for (macOS, Windows, another processor), without an override, loading fails
 * with one line naming the platform and the supported ones.
 * A candidate that cannot be loaded is skipped (with a warning when a later one succeeds); when none
 * loads, the {@link UnsatisfiedLinkError} lists every candidate and why it failed. The loaded library must
 * report the same version as this jar, otherwise loading fails: a jar and a library from different builds
 * would disagree on the C structs.
 *
 * <p>The generated bindings ({@link Mla4jNative}) find symbols with {@link SymbolLookup#loaderLookup()}, which
 * sees the libraries {@link System#load} loaded from this class loader: call {@link #load()} before any of them.
 *
 * <p>Model conversion also needs LAPACK/BLAS, which the native library {@code dlopen()}s on first use (inference
 * never does). {@link #prepareLapack()} extracts the OpenBLAS that the {@code org.bytedeco:openblas} dependency
 * ships for this platform to the same cache, the same way, and names it to the native library; {@value #LAPACK_ENV}
 * overrides it.
 */
public final class NativeLibrary {

    /** System property naming a libmla4j.so to load instead of the bundled one. */
    public static final String PATH_PROPERTY = "mla4j.library.path";
    /** Environment variable naming a libmla4j.so to load instead of the bundled one. */
    public static final String PATH_ENV = "MLA4J_LIBRARY_PATH";

    /**
     * Environment variable naming the LAPACK/BLAS library conversion loads instead of the bundled OpenBLAS (read by
     * the native library; when set, it is the only library tried).
     */
    public static final String LAPACK_ENV = "MLA4J_LAPACK";

    /**
     * The files of the bundled OpenBLAS, its runtime first: libopenblas.so.0 finds the others beside it (its RUNPATH
     * is $ORIGIN), and extracting it last means a complete set exists once it does.
     */
    static final List<String> OPENBLAS_FILES = List.of("libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5",
            "libopenblas.so.0");

    /** The platforms whose library this jar bundles (when the build could make them; see the README). */
    public static final List<String> SUPPORTED = List.of("linux-x86_64", "linux-aarch64");

    private static final String NOT_SET = "not set";
    private static final String VERSION_RESOURCE = "/org/mla4j/mla4j-version.properties";
    private static final System.Logger LOG = System.getLogger(NativeLibrary.class.getName());

    private static volatile Path loadedFrom;
    private static volatile Lapack lapack;

    /**
     * What {@link #prepareLapack()} did: the bundled OpenBLAS it named to the native library (null when none), or
     * why it named none (null when it did, or when {@value #LAPACK_ENV} is set and it had no reason to).
     */
    record Lapack(Path bundled, String problem) {
    }

    private NativeLibrary() {
    }

    /**
     * Loads the library if this JVM has not loaded it yet; thread-safe, later calls return at once.
     *
     * @return the file the library was loaded from
     * @throws UnsatisfiedLinkError when no candidate loads (the message lists each one and why), or when the
     *                              library's version differs from this jar's
     */
    public static Path load() {
        Path path = loadedFrom;
        if (path != null) return path;
        synchronized (NativeLibrary.class) {
            if (loadedFrom == null) loadedFrom = load(Options.fromEnvironment());
            return loadedFrom;
        }
    }

    /**
     * Loads the library (as {@link #load()}) and prepares LAPACK/BLAS for model conversion, once per JVM, before the
     * native library loads it: unless {@value #LAPACK_ENV} is set, extracts the OpenBLAS bundled on the class path
     * (libopenblas.so.0 and its gfortran runtime, from {@code /org/bytedeco/openblas/<platform>/}) to
     * {@code $XDG_CACHE_HOME/mla4j/<version>/openblas/}, each file verified by size and SHA-256 and written by
     * atomic rename, and names it with {@code mla4j_linalg_set_library}. When that fails, the native library still
     * tries the system's libopenblas.so.0 and liblapack.so.3; {@link #lapackProblem()} says why. Called by
     * {@link org.mla4j.linalg.Linalg} and {@link org.mla4j.calib.CalibrationStats}; inference never needs it.
     */
    public static void prepareLapack() {
        if (lapack != null) return;
        synchronized (NativeLibrary.class) {
            if (lapack != null) return;
            load();
            String env = System.getenv(LAPACK_ENV);
            Lapack prepared;
            if (env != null && !env.isEmpty()) {
                prepared = new Lapack(null, null); // the native library loads only that one: nothing to extract
            } else {
                prepared = extractLapack(Options.fromEnvironment());
                if (prepared.bundled() != null) {
                    try (Arena arena = Arena.ofConfined()) {
                        int status = Mla4jNative.mla4j_linalg_set_library(arena.allocateFrom(prepared.bundled().toString()));
                        if (status != Mla4jNative.MLA4J_OK()) {
                            // LAPACK was loaded before this class could name it (a direct call of the bindings).
                            prepared = new Lapack(null, "the bundled OpenBLAS " + prepared.bundled() + " was not used: "
                                    + Mla4jNative.mla4j_last_error().getString(0));
                        }
                    }
                }
            }
            lapack = prepared;
        }
    }

    /**
     * {@return why {@link #prepareLapack()} could not hand the native library the bundled OpenBLAS (not in the class
     * path for this platform, the cache not writable, ...), for error messages; empty when it did or had no reason
     * to}
     */
    public static Optional<String> lapackProblem() {
        Lapack l = lapack;
        return l == null ? Optional.empty() : Optional.ofNullable(l.problem());
    }

    /** The resource directory of org.bytedeco:openblas for this platform (JavaCPP's platform names). */
    static String openblasResourceDir() {
        String p = platform().replace("macos-", "macosx-").replace("-aarch64", "-arm64");
        return "/org/bytedeco/openblas/" + p + "/";
    }

    /**
     * Extracts the bundled OpenBLAS to options' cache directory (openblas/ beside libmla4j), without loading it;
     * the result names libopenblas.so.0 there, or says why it could not.
     */
    static Lapack extractLapack(Options options) {
        String dirName = openblasResourceDir();
        Path dir = options.cacheDir().resolve("openblas");
        Path library = null;
        for (String file : OPENBLAS_FILES) {
            String resource = dirName + file;
            byte[] bytes;
            try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
                if (in == null) {
                    // The runtime libraries differ between platforms (no libquadmath on arm64); the library itself must be there.
                    if (!file.startsWith("libopenblas")) continue;
                    return new Lapack(null, "the bundled OpenBLAS was not used: " + resource + " is not in the class "
                            + "path (the org.bytedeco:openblas jar for " + platform() + " is missing)");
                }
                bytes = in.readAllBytes();
            } catch (IOException e) {
                return new Lapack(null, "the bundled OpenBLAS was not used: cannot read " + resource + ": " + e);
            }
            try {
                library = extract(bytes, dir, file);
            } catch (IOException e) {
                return new Lapack(null, "the bundled OpenBLAS was not used: cannot extract " + resource + " to " + dir
                        + ": " + e + " (set XDG_CACHE_HOME to a writable directory)");
            }
        }
        return new Lapack(library, null);
    }

    /** {@return the version of this jar (the Maven project version), which the native library must match} */
    public static String apiVersion() {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(VERSION_RESOURCE)) {
            if (in == null) throw new IllegalStateException("mla4j: " + VERSION_RESOURCE + " is missing from the jar");
            Properties props = new Properties();
            props.load(in);
            String version = props.getProperty("version");
            if (version == null || version.isBlank()) {
                throw new IllegalStateException("mla4j: no 'version' in " + VERSION_RESOURCE);
            }
            return version.trim();
        } catch (IOException e) {
            throw new UncheckedIOException("mla4j: cannot read " + VERSION_RESOURCE, e);
        }
    }

    /** The resource directory name of this platform, e.g. "linux-x86_64", "linux-aarch64", "macos-aarch64". */
    static String platform() {
        return platform(System.getProperty("os.name"), System.getProperty("os.arch"));
    }

    /**
     * The resource directory name of a platform given as the JVM's {@code os.name} and {@code os.arch}: the OS
     * ("linux", "macos", "windows", else the name's letters and digits), a dash, and the processor with the JVM's
     * aliases merged (amd64 and x86_64 are "x86_64", aarch64 and arm64 are "aarch64").
     */
    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) os = "linux";
        else if (os.startsWith("mac")) os = "macos";
        else if (os.startsWith("windows")) os = "windows";
        else os = os.replaceAll("[^a-z0-9]", "");
        String arch = osArch.toLowerCase(Locale.ROOT);
        arch = switch (arch) {
            case "amd64", "x86_64", "x86-64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return os + "-" + arch;
    }

    /** The class path resource of a platform's library, e.g. "/native/linux-aarch64/libmla4j.so". */
    static String bundledResource(String platform) {
        String file = platform.startsWith("macos-") ? "libmla4j.dylib"
                : platform.startsWith("windows-") ? "mla4j.dll" : "libmla4j.so";
        return "/native/" + platform + "/" + file;
    }

    /**
     * The one-line error for a platform without a bundled library, or null when the jar supports it.
     *
     * @param platform as {@link #platform(String, String)} names it
     */
    static String unsupportedPlatformMessage(String platform) {
        if (SUPPORTED.contains(platform)) return null;
        return "mla4j: no native library for " + platform + " in this jar (it supports " + String.join(" and ", SUPPORTED)
                + "); build libmla4j for " + platform + " (see the README) and set " + PATH_ENV + " to it";
    }

    /**
     * Where to look; {@link #fromEnvironment()} gives the real settings, tests pass their own.
     *
     * @param propertyPath    value of {@value #PATH_PROPERTY}, or null
     * @param envPath         value of {@value #PATH_ENV}, or null
     * @param resource        class path resource of the bundled library
     * @param cacheRoot       the XDG cache directory; the library is extracted to cacheRoot/mla4j/version/
     * @param expectedVersion the version the library must report
     * @param platform        the platform whose bundled library is wanted ({@link #platform()} by default)
     */
    record Options(String propertyPath, String envPath, String resource, Path cacheRoot, String expectedVersion,
                   String platform) {
        /** Options for this JVM's platform. */
        Options(String propertyPath, String envPath, String resource, Path cacheRoot, String expectedVersion) {
            this(propertyPath, envPath, resource, cacheRoot, expectedVersion, NativeLibrary.platform());
        }

        static Options fromEnvironment() {
            // XDG base directory spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
            String xdg = System.getenv("XDG_CACHE_HOME");
            Path cacheRoot = xdg != null && !xdg.isEmpty() && Path.of(xdg).isAbsolute()
                    ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
            return new Options(System.getProperty(PATH_PROPERTY), System.getenv(PATH_ENV),
                    bundledResource(NativeLibrary.platform()), cacheRoot, apiVersion());
        }

        Path cacheDir() {
            return cacheRoot.resolve("mla4j").resolve(expectedVersion);
        }
    }

    /** Tries each candidate of options in order, without the once-per-JVM shortcut of {@link #load()}. */
    static Path load(Options options) {
        List<String> failures = new ArrayList<>();
        Path loaded = tryOverride("system property " + PATH_PROPERTY, options.propertyPath(), failures);
        if (loaded == null) loaded = tryOverride("environment variable " + PATH_ENV, options.envPath(), failures);
        String unsupported = unsupportedPlatformMessage(options.platform());
        if (loaded == null && unsupported != null && failures.stream().allMatch(f -> f.endsWith(": " + NOT_SET))) {
            throw new UnsatisfiedLinkError(unsupported); // nothing was asked for and nothing is bundled: one line
        }
        if (loaded == null) loaded = tryBundled(options, failures);
        if (loaded == null) {
            StringBuilder msg = new StringBuilder("mla4j: cannot load the native library; tried:");
            for (int i = 0; i < failures.size(); i++) msg.append("\n  ").append(i + 1).append(". ").append(failures.get(i));
            msg.append("\nSet -D").append(PATH_PROPERTY).append("=/path/to/").append(System.mapLibraryName("mla4j"))
                    .append(" or ").append(PATH_ENV).append(" to a library built for ").append(platform())
                    .append(" (cmake -S . -B build && cmake --build build).");
            throw new UnsatisfiedLinkError(msg.toString());
        }
        // An override that is set but unusable is a configuration mistake worth telling, even though we recovered.
        if (failures.stream().anyMatch(f -> !f.endsWith(": " + NOT_SET))) {
            LOG.log(System.Logger.Level.WARNING, "mla4j: loaded " + loaded + " after skipping: " + String.join("; ", failures));
        }
        checkVersion(loaded, options.expectedVersion());
        return loaded;
    }

    /** Loads the file named by an override; on failure records why in failures and returns null. */
    private static Path tryOverride(String source, String value, List<String> failures) {
        if (value == null || value.isBlank()) {
            failures.add(source + ": " + NOT_SET);
            return null;
        }
        Path path = Path.of(value).toAbsolutePath();
        String what = source + "=" + path;
        if (!Files.exists(path)) {
            failures.add(what + ": no such file");
        } else if (!Files.isRegularFile(path)) {
            failures.add(what + ": not a regular file");
        } else if (platform().startsWith("linux-") && !hasElfMagic(path)) {
            // Checked here because HotSpot prints a scary stack-guard warning before dlopen rejects a non-ELF file.
            failures.add(what + ": not an ELF shared library");
        } else {
            String error = systemLoad(path);
            if (error == null) return path;
            failures.add(what + ": " + error);
        }
        return null;
    }

    private static boolean hasElfMagic(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
        } catch (IOException e) {
            return true; // let System.load report why the file cannot be read
        }
    }

    /** Extracts the bundled library to the cache and loads it; on failure records why and returns null. */
    private static Path tryBundled(Options options, List<String> failures) {
        String what = "bundled resource " + options.resource();
        byte[] bytes;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(options.resource())) {
            if (in == null) {
                failures.add(what + ": not in the class path (no library bundled for " + platform() + ")");
                return null;
            }
            bytes = in.readAllBytes();
        } catch (IOException e) {
            failures.add(what + ": cannot read it: " + e);
            return null;
        }
        Path dir = options.cacheDir();
        Path path;
        try {
            path = extract(bytes, dir, System.mapLibraryName("mla4j"));
        } catch (IOException e) {
            failures.add(what + ": cannot extract it to " + dir + ": " + e
                    + " (set XDG_CACHE_HOME to a writable directory)");
            return null;
        }
        String error = systemLoad(path);
        if (error == null) return path;
        failures.add(what + " extracted to " + path + ": " + error);
        return null;
    }

    /**
     * Makes dir/fileName hold exactly bytes, and returns that path. A file already there with the same size
     * and SHA-256 is reused; otherwise the bytes go to a temporary file in dir that is atomically renamed
     * over it, so that concurrent processes never see (or load) a half-written library.
     */
    static Path extract(byte[] bytes, Path dir, String fileName) throws IOException {
        Path target = dir.resolve(fileName);
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length
                && MessageDigest.isEqual(sha256(Files.readAllBytes(target)), sha256(bytes))) {
            return target;
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, fileName + ".", ".tmp");
        try {
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JDK", e);
        }
    }

    /** System.load(path); returns null on success, else the reason (dlopen's message). */
    private static String systemLoad(Path path) {
        try {
            System.load(path.toString());
            return null;
        } catch (UnsatisfiedLinkError e) {
            return e.getMessage();
        }
    }

    /**
     * Fails when the library loaded from path is not the version of this jar. It stays loaded (a JVM cannot
     * unload it), so no other candidate is tried: the bindings could bind to either.
     */
    private static void checkVersion(Path path, String expected) {
        if (SymbolLookup.loaderLookup().find("mla4j_version").isEmpty()) {
            throw new UnsatisfiedLinkError("mla4j: " + path + " is not the mla4j library (it has no mla4j_version)");
        }
        String actual = Mla4jNative.mla4j_version().getString(0);
        if (!actual.equals(expected)) {
            throw new UnsatisfiedLinkError("mla4j: version mismatch: the native library " + path + " is version "
                    + actual + " but the mla4j Java API is version " + expected
                    + "; use the library built with this jar (or unset " + PATH_PROPERTY + "/" + PATH_ENV + ")");
        }
    }
}
