package org.mla4j.internal;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.mla4j.Mla4jException;
import org.mla4j.NativeLibrary;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StatusTest {

    @BeforeAll
    static void loadLibrary() {
        NativeLibrary.load();
    }

    @Test
    void okDoesNotThrow() {
        assertDoesNotThrow(() -> Status.check(0));
        assertDoesNotThrow(() -> Status.check(0, "anything"));
    }

    @Test
    void failureCarriesCodeNameAndContext() {
        Mla4jException e = assertThrows(Mla4jException.class, () -> Status.check(3, "reading model.gguf"));
        assertEquals(3, e.status());
        assertEquals("MLA4J_ERR_FORMAT", e.statusName()); // from the library's mla4j_status_name
        assertTrue(e.getMessage().startsWith("reading model.gguf: "), e.getMessage());
        assertTrue(e.getMessage().endsWith("(MLA4J_ERR_FORMAT, status 3)"), e.getMessage());
    }

    @Test
    void unknownCodeIsNamedUnknown() {
        Mla4jException e = assertThrows(Mla4jException.class, () -> Status.check(99));
        assertEquals("MLA4J_ERR_UNKNOWN", e.statusName());
        assertTrue(e.getMessage().endsWith("(MLA4J_ERR_UNKNOWN, status 99)"), e.getMessage());
    }

    @Test
    void messageFormat() {
        assertEquals("opening a.gguf: a.gguf: bad magic (MLA4J_ERR_FORMAT, status 3)",
                new Mla4jException(3, "MLA4J_ERR_FORMAT", "a.gguf: bad magic", "opening a.gguf").getMessage());
        assertEquals("failed (MLA4J_ERR_IO, status 2)", new Mla4jException(2, "MLA4J_ERR_IO", "", null).getMessage());
    }
}
