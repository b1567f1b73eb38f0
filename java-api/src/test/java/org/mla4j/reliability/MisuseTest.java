package org.mla4j.reliability;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mla4j.Fixtures;
import org.mla4j.Generation;
import org.mla4j.Mla4jException;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.sampling.SamplerConfig;

/**
 * The Java API under misuse: calls after close, double close, closing a model under its sessions, a session shared
 * by two threads, cancel racing close, a GGUF file closed under a reader. Every case ends in a defined exception or
 * a defined result; none may reach freed native memory (which would crash the JVM, failing the whole run).
 */
@Timeout(120) // a deadlock is a failure, not a hung build
class MisuseTest {

    static Path stories() {
        return Fixtures.require("models/stories260K.gguf");
    }

    static Session.Options small() {
        return Session.Options.defaults().withThreads(1).withContextSize(256);
    }

    @Test
    void callsOnAClosedSessionThrowAndDoubleCloseIsHarmless() {
        try (Model m = Model.load(stories())) {
            Session s = m.newSession(small());
            s.eval(1, 2);
            s.close();
            assertTrue(s.isClosed());
            assertDoesNotThrow(s::close);
            assertDoesNotThrow(s::cancel); // defined as a no-op on a closed session
            for (Runnable call : new Runnable[] {() -> s.eval(1), s::logits, s::position, () -> s.setPosition(0),
                    s::kvBytes, s::reset, () -> s.evalAllLogits(1)}) {
                IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
                assertEquals("the session is closed", e.getMessage());
            }
        }
    }

    @Test
    void callsOnAClosedModelThrowEvenThroughViewsObtainedBefore() {
        Model m = Model.load(stories());
        GgufFile view = m.gguf();
        GgufTensorInfo embd = view.tensor("token_embd.weight").orElseThrow();
        MemorySegment data = view.tensorData(embd);
        float first = data.get(JAVA_FLOAT_UNALIGNED, 0);
        assertTrue(Float.isFinite(first));
        m.close();
        assertDoesNotThrow(m::close);
        assertTrue(m.isClosed() && view.isClosed());
        assertTrue(assertThrows(IllegalStateException.class, () -> m.newSession(small())).getMessage()
                .endsWith("stories260K.gguf: the model is closed"));
        assertThrows(IllegalStateException.class, () -> m.kvBytesPerToken(GgmlType.F16));
        assertThrows(IllegalStateException.class, m::gguf);
        assertThrows(IllegalStateException.class, () -> view.getString("general.architecture"));
        assertThrows(IllegalStateException.class, () -> view.getStringArray("tokenizer.ggml.tokens"));
        assertThrows(IllegalStateException.class, () -> view.tensorData(embd));
        // The segment handed out before belongs to the file's arena: reading it now throws instead of reading
        // unmapped memory (which would be a SIGSEGV in the JVM).
        assertThrows(IllegalStateException.class, () -> data.get(JAVA_FLOAT_UNALIGNED, 0));
    }

    @Test
    void closingTheModelClosesItsOpenSessions() {
        Model m = Model.load(stories());
        Session a = m.newSession(small());
        Session b = m.newSession(small());
        a.eval(1, 403);
        b.close();
        m.close();
        assertTrue(a.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.eval(407));
        assertTrue(e.getMessage().endsWith("the session was closed with its model"), e.getMessage());
        assertDoesNotThrow(a::close);
        assertDoesNotThrow(a::cancel);
    }

    /** A thread generating while another closes the model: the generator ends with IllegalStateException. */
    @Test
    void closingTheModelUnderARunningGenerationIsSafe() throws Exception {
        for (int round = 0; round < 20; round++) {
            Model m = Model.load(stories());
            Session s = m.newSession(small());
            CountDownLatch started = new CountDownLatch(1);
            AtomicReference<Throwable> ended = new AtomicReference<>();
            Thread generator = new Thread(() -> {
                try {
                    for (int i = 0; ; i++) {
                        if (s.position() >= 200) s.reset();
                        s.eval(1 + i % 500);
                        started.countDown();
                    }
                } catch (Throwable t) {
                    ended.set(t);
                }
            });
            generator.start();
            assertTrue(started.await(10, java.util.concurrent.TimeUnit.SECONDS), "the generator did not start");
            Thread.sleep(round % 3); // close at varying points of the eval loop
            m.close();
            generator.join(10_000);
            assertFalse(generator.isAlive());
            assertInstanceOf(IllegalStateException.class, ended.get());
        }
    }

    /** Two threads on one session: their calls are serialized, nothing is lost, and the session stays sound. */
    @Test
    void aSessionSharedByTwoThreadsSerializesTheirCalls() throws Exception {
        try (Model m = Model.load(stories()); Session shared = m.newSession(small())) {
            AtomicInteger errors = new AtomicInteger();
            Runnable work = () -> {
                for (int i = 0; i < 100; i++) {
                    try {
                        float[] logits = shared.eval(1 + i);
                        if (logits.length != 512) errors.incrementAndGet();
                    } catch (RuntimeException e) {
                        errors.incrementAndGet();
                    }
                }
            };
            Thread t1 = new Thread(work);
            Thread t2 = new Thread(work);
            t1.start();
            t2.start();
            t1.join();
            t2.join();
            assertEquals(0, errors.get());
            assertEquals(200, shared.position());
            // The session still computes exactly what a fresh one does.
            shared.reset();
            float[] again = shared.eval(1, 403, 407);
            try (Session fresh = m.newSession(small())) {
                assertArrayEquals(fresh.eval(1, 403, 407), again);
            }
        }
    }

    /** cancel() from another thread while close() frees the context: never a call on a freed context. */
    @Test
    void cancelRacingCloseIsSafe() throws Exception {
        try (Model m = Model.load(stories())) {
            for (int round = 0; round < 200; round++) {
                Session s = m.newSession(small());
                AtomicBoolean stop = new AtomicBoolean();
                CountDownLatch spinning = new CountDownLatch(1);
                Thread canceller = new Thread(() -> {
                    while (!stop.get()) {
                        s.cancel();
                        spinning.countDown();
                    }
                });
                canceller.start();
                assertTrue(spinning.await(10, java.util.concurrent.TimeUnit.SECONDS), "the canceller did not start");
                s.close();
                stop.set(true);
                canceller.join();
                assertTrue(s.isClosed());
            }
        }
    }

    /** A cancel with no eval running cancels the next eval, which leaves the cache as it was. */
    @Test
    void cancelStopsTheNextEvalAndKeepsTheCache() {
        try (Model m = Model.load(stories()); Session s = m.newSession(small())) {
            s.eval(1, 403);
            s.cancel();
            Mla4jException e = assertThrows(Mla4jException.class, () -> s.eval(407, 261));
            assertEquals("MLA4J_ERR_CANCELLED", e.statusName());
            assertEquals(2, s.position());
            s.eval(407);
            assertEquals(3, s.position());
        }
    }

    /** Generation.cancel from another thread ends the generation with CANCELLED, not with an error. */
    @Test
    void generationCancelledFromAnotherThreadStopsCleanly() throws Exception {
        try (Model m = Model.load(stories()); Session s = m.newSession(small())) {
            Generation g = new Generation(s, m.tokenizer(), "Once upon a time",
                    Generation.Options.of(200, SamplerConfig.greedy()));
            CountDownLatch firstToken = new CountDownLatch(1);
            Thread canceller = new Thread(() -> {
                try {
                    firstToken.await();
                } catch (InterruptedException e) {
                    return;
                }
                g.cancel();
            });
            canceller.start();
            Generation.Stats stats = g.run(t -> {
                firstToken.countDown();
                return true;
            });
            canceller.join();
            assertEquals(Generation.StopReason.CANCELLED, stats.stopReason());
            assertTrue(stats.generatedTokens() < 200);
        }
    }

    /** A GGUF file closed while another thread reads its metadata: the reader gets IllegalStateException. */
    @Test
    void closingAGgufFileUnderAReaderIsSafe() throws Exception {
        for (int round = 0; round < 20; round++) {
            GgufFile f = GgufFile.open(stories());
            CountDownLatch reading = new CountDownLatch(1);
            AtomicReference<Throwable> ended = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                try {
                    while (true) {
                        assertEquals(512, f.getStringArray("tokenizer.ggml.tokens").orElseThrow().size());
                        assertEquals(512, f.getFloatArray("tokenizer.ggml.scores").orElseThrow().length);
                        reading.countDown();
                    }
                } catch (Throwable t) {
                    ended.set(t);
                }
            });
            reader.start();
            assertTrue(reading.await(10, java.util.concurrent.TimeUnit.SECONDS), "the reader did not start");
            f.close();
            reader.join(10_000);
            assertFalse(reader.isAlive());
            assertInstanceOf(IllegalStateException.class, ended.get());
        }
    }
}
