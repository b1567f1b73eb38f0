package org.mla4j.hf;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes a directory atomically enough for model files: everything goes into a hidden temporary directory beside
 * the target, which is renamed to the target when complete. An existing target is replaced only when it is empty
 * or a Hugging Face model directory (it has a config.json); it is moved aside first and deleted after the rename.
 * On failure the temporary directory is removed and the target is left as it was.
 */
final class HfDirectoryWriter {
    interface Body {
        void write(Path dir) throws IOException;
    }

    private HfDirectoryWriter() {
    }

    static void write(Path target, Body body) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IllegalArgumentException(target + ": the parent directory does not exist");
        }
        if (Files.exists(abs)) {
            if (!Files.isDirectory(abs)) throw new IllegalArgumentException(target + ": exists and is not a directory");
            if (!isEmpty(abs) && !Files.isRegularFile(abs.resolve(HfModelDir.CONFIG))) {
                throw new IllegalArgumentException(target + ": exists and is not a Hugging Face model directory; "
                        + "refusing to replace it");
            }
        }
        String stamp = ProcessHandle.current().pid() + "." + Long.toHexString(System.nanoTime());
        Path temp = Files.createDirectory(parent.resolve("." + abs.getFileName() + "." + stamp + ".tmp"));
        try {
            body.write(temp);
            Path old = null;
            if (Files.exists(abs)) {
                old = parent.resolve("." + abs.getFileName() + "." + stamp + ".old");
                move(abs, old);
            }
            try {
                move(temp, abs);
            } catch (IOException | RuntimeException e) {
                if (old != null) move(old, abs);
                throw e;
            }
            if (old != null) deleteTree(old);
        } catch (IOException | RuntimeException | Error e) {
            try {
                deleteTree(temp);
            } catch (IOException x) {
                e.addSuppressed(x);
            }
            throw e;
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            return !s.iterator().hasNext();
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
