package org.mla4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class StopMatcherTest {

    static GeneratedToken t(int id, String text) {
        return new GeneratedToken(id, text, Float.NaN, List.of());
    }

    /** Pushes the pieces; returns the released texts joined with '|' between tokens. */
    static String run(StopMatcher m, String... pieces) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < pieces.length && !m.matched(); i++) {
            for (GeneratedToken g : m.push(t(i, pieces[i]))) out.add(g.text());
        }
        if (!m.matched()) for (GeneratedToken g : m.flush()) out.add(g.text());
        return String.join("|", out);
    }

    @Test
    void withoutStopStringsEveryTokenPassesAtOnce() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals(List.of(t(0, "a")), m.push(t(0, "a")));
    }

    @Test
    void aStopStringSplitOverTokensEndsTheReplyBeforeIt() {
        StopMatcher m = new StopMatcher(List.of("\nUser:"));
        assertEquals("Hi| there", run(m, "Hi", " there", "\n", "User", ":", " more"));
        assertTrue(m.matched());
    }

    @Test
    void theTokenWhereTheStopBeginsKeepsItsTextBeforeIt() {
        StopMatcher m = new StopMatcher(List.of("lo w"));
        assertEquals("Hel", run(m, "Hello", " world"));
    }

    @Test
    void aHeldPrefixThatDoesNotBecomeTheStopIsReleasedInOrder() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        List<String> released = new ArrayList<>();
        for (GeneratedToken g : m.push(t(0, "a ST"))) released.add(g.text());
        assertEquals(List.of(), released, "'ST' could start 'STOP': the token is held");
        for (GeneratedToken g : m.push(t(1, "ART"))) released.add(g.text());
        assertEquals(List.of("a ST", "ART"), released);
        assertFalse(m.matched());
    }

    @Test
    void theEarliestOfSeveralStopStringsWins() {
        StopMatcher m = new StopMatcher(List.of("world", "lo"));
        assertEquals("Hel", run(m, "Hello world"));
    }

    @Test
    void heldTokensAreFlushedWhenTheReplyEndsOtherwise() {
        StopMatcher m = new StopMatcher(List.of("ends"));
        assertEquals("it| en", run(m, "it", " en"));
        assertFalse(m.matched());
    }
}
