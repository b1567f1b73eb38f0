package org.mla4j;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared fixtures: env MLA4J_FIXTURES, else ../shared/fixtures next to the repository root. */
public final class Fixtures {
    private Fixtures() {}

    /** The fixture file, or a skipped test (with a message saying where it was looked for) when it is absent. */
    public static Path require(String relative) {
        Path dir = dir();
        Path file = dir.resolve(relative);
        if (!Files.isRegularFile(file)) {
            // Visible in the build log, not only in the surefire report.
            System.err.println("SKIPPED: fixture " + file + " not found (set MLA4J_FIXTURES to the shared fixtures)");
        }
        assumeTrue(Files.isRegularFile(file),
                () -> "fixture " + file + " not found: set MLA4J_FIXTURES to the shared fixtures directory; skipping");
        return file;
    }

    public static Path dir() {
        String env = System.getenv("MLA4J_FIXTURES");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        // Maven runs tests in the module directory (java-api/); the repository root is its parent.
        Path cwd = Path.of("").toAbsolutePath();
        Path root = Files.isDirectory(cwd.resolve("java-api")) ? cwd : cwd.getParent();
        return root.resolve("../shared/fixtures").normalize();
    }
}
