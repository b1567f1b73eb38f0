package org.mla4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The real model embedded in this jar: Andrej Karpathy's "stories260K" (llama2.c, trained on TinyStories, MIT
 * licence; {@link #license()}), a 1.2 MB llama model with grouped-query attention (5 layers, 8 heads, 4 KV heads,
 * head dim 8, vocabulary 512) that writes short children's stories. It is what {@code mla4j demo}, the examples
 * and the commands given no model use, so that trying mla4j needs no download.
 *
 * <p>The model is a class path resource; {@link #path()} extracts it once to the per-user cache, next to the native
 * library ({@code $XDG_CACHE_HOME/mla4j/<version>/models/stories260K.gguf}, default {@code ~/.cache/...}), where a
 * file already there is reused only when its size and SHA-256 match, so a damaged copy is replaced.
 *
 * <pre>{@code
 * try (Model model = EmbeddedModel.load()) {
 *     System.out.println(model.hparams());
 * }
 * }</pre>
 */
public final class EmbeddedModel {

    /** The model's name, as the CLI prints it. */
    public static final String NAME = "stories260K";
    /** The file name it is extracted under. */
    public static final String FILE_NAME = "stories260K.gguf";
    /** One line saying what it is and where it comes from. */
    public static final String DESCRIPTION = "stories260K (Andrej Karpathy's llama2.c, trained on TinyStories; MIT "
            + "licence), embedded in mla4j";

    static final String RESOURCE = "/org/mla4j/models/" + FILE_NAME;
    static final String LICENSE_RESOURCE = "/org/mla4j/models/stories260K.LICENSE.txt";

    private static volatile Path extracted;

    private EmbeddedModel() {
    }

    /**
     * The model as a file, extracted from the jar on the first call of this JVM (thread-safe; later calls return
     * at once).
     *
     * @return the extracted GGUF file
     * @throws UncheckedIOException  when the cache directory cannot be written (set {@code XDG_CACHE_HOME} to a
     *                               writable directory)
     * @throws IllegalStateException when the model is missing from the class path
     */
    public static Path path() {
        Path p = extracted;
        if (p != null) return p;
        synchronized (EmbeddedModel.class) {
            if (extracted == null) extracted = extract(NativeLibrary.Options.fromEnvironment().cacheDir().resolve("models"));
            return extracted;
        }
    }

    /**
     * Loads the model ({@link Model#load(Path)} of {@link #path()}).
     *
     * @return the loaded model, to be closed by the caller
     */
    public static Model load() {
        return Model.load(path());
    }

    /**
     * The model's provenance and licence (the MIT licence of llama2.c), as shipped next to it in the jar.
     *
     * @return the text of {@code stories260K.LICENSE.txt}
     */
    public static String license() {
        return new String(resource(LICENSE_RESOURCE), StandardCharsets.UTF_8);
    }

    /** Writes the resource to dir/FILE_NAME (reusing an identical file) and returns that path. */
    static Path extract(Path dir) {
        byte[] bytes = resource(RESOURCE);
        try {
            return NativeLibrary.extract(bytes, dir, FILE_NAME);
        } catch (IOException e) {
            throw new UncheckedIOException("mla4j: cannot extract the embedded model to " + dir + ": " + e
                    + " (set XDG_CACHE_HOME to a writable directory)", e);
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = EmbeddedModel.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("mla4j: " + name + " is missing from the class path (the "
                        + "mla4j-java-api jar embeds it)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("mla4j: cannot read " + name + ": " + e, e);
        }
    }
}
