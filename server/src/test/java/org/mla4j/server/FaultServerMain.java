package org.mla4j.server;

import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code mla4j serve} in a process of its own for {@link FaultsTest}, so that its resident set size is the server's
 * alone (not the test client's): args MODEL PARALLEL CTX MAX_BODY_BYTES MAX_TOKENS. Prints "port N" once the model
 * is loaded and serves until its standard input closes (the test ends or dies), then shuts down.
 */
public final class FaultServerMain {
    private FaultServerMain() {
    }

    public static void main(String[] args) throws Exception {
        ServerConfig config = ServerConfig.defaults(Path.of(args[0])).withPort(0).withThreads(1)
                .withParallel(Integer.parseInt(args[1])).withContextSize(Integer.parseInt(args[2]))
                .withMaxBodyBytes(Long.parseLong(args[3])).withMaxTokens(Integer.parseInt(args[4]));
        Mla4jServer server = Mla4jServer.start(config);
        if (!server.awaitLoaded(Duration.ofSeconds(60))) throw new IllegalStateException("model not loaded in 60 s");
        System.out.println("port " + server.port());
        System.out.flush();
        while (System.in.read() >= 0) {
            // serve until the test closes our standard input
        }
        server.shutdown(Duration.ofSeconds(5));
        System.exit(0);
    }
}
