package org.mla4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model embedded in the jar is the published stories260K, and it runs as llama2.c runs it. */
class EmbeddedModelTest {

    /** The fixture's checksum in the shared fixtures' models/SHA256SUMS (not computed by this project). */
    static final String SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

    @TempDir
    Path tmp;

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void extractedFileIsThePublishedModel() throws Exception {
        Path p = EmbeddedModel.path();
        assertEquals(EmbeddedModel.FILE_NAME, p.getFileName().toString());
        assertEquals(SHA256, sha256(Files.readAllBytes(p)));
        assertEquals(p, EmbeddedModel.path(), "extracted once per JVM");
    }

    @Test
    void sameBytesAsTheSharedFixture() throws Exception {
        Path fixture = Fixtures.require("models/stories260K.gguf");
        assertArrayEquals(Files.readAllBytes(fixture), Files.readAllBytes(EmbeddedModel.path()));
    }

    /** Needs no fixture: the published llama2.c output (SOURCES.md) from the embedded copy alone. */
    @Test
    void greedyOutputIsLlama2csPublishedOutput() {
        String text = StoriesGreedyTest.generate(EmbeddedModel.path(), StoriesGreedyTest.GREEDY_IDS.length,
                Session.Options.defaults().withThreads(1), null);
        assertEquals(StoriesGreedyTest.REFERENCE, text);
    }

    @Test
    void damagedCachedCopyIsReplaced() throws Exception {
        Path first = EmbeddedModel.extract(tmp);
        byte[] bytes = Files.readAllBytes(first);
        bytes[bytes.length / 2] ^= 1;
        Files.write(first, bytes); // same size, other content
        Path again = EmbeddedModel.extract(tmp);
        assertEquals(first, again);
        assertEquals(SHA256, sha256(Files.readAllBytes(again)));
        try (var files = Files.list(tmp)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void licenceTravelsWithTheModel() {
        String text = EmbeddedModel.license();
        assertTrue(text.contains("MIT License") && text.contains("Copyright (c) 2023 Andrej"), text);
        assertTrue(text.contains("The above copyright notice and this permission notice shall be included"), text);
        assertTrue(text.contains(SHA256), text);
    }

    @Test
    void loadGivesTheModelsShape() {
        try (Model m = EmbeddedModel.load()) {
            assertEquals("llama", m.gguf().getString("general.architecture").orElseThrow());
            assertEquals(5, m.hparams().layers());
            assertEquals(8, m.hparams().heads());
            assertEquals(4, m.hparams().kvHeads());
            assertEquals(512, m.hparams().vocabSize());
        }
    }
}
