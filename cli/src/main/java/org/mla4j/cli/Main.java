package org.mla4j.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The mla4j command line. Exit codes: 0 success, 1 runtime failure, 2 usage error. Errors are one line on stderr;
 * --verbose adds the stack trace.
 */
@Command(name = "mla4j", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Main.Version.class,
        description = "Run GGUF language models from Java, and convert them to Multi-head Latent Attention.",
        subcommands = {DemoCommand.class, InfoCommand.class, RunCommand.class, ChatCommand.class, ServeCommand.class, BenchCommand.class,
                EvalCommand.class, QuantizeCommand.class, SynthCommand.class, TokenizeCommand.class, ConvertCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT, description = "Print stack traces of errors.")
    boolean verbose;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int execute(String... args) {
        Main main = new Main();
        CommandLine cl = new CommandLine(main);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            if (e instanceof UsageException) {
                err.println("mla4j: " + e.getMessage());
                err.println("Try 'mla4j " + commandLine.getCommandName() + " --help' for more information.");
                err.flush();
                return 2;
            }
            err.println("mla4j: error: " + oneLine(e));
            if (main.verbose || parseResult.hasMatchedOption("--verbose")) e.printStackTrace(err);
            err.flush();
            return 1;
        });
        cl.setParameterExceptionHandler((e, a) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("mla4j: " + e.getMessage());
            err.println("Try 'mla4j " + e.getCommandLine().getCommandName() + " --help' for more information.");
            err.flush();
            return 2;
        });
        return cl.execute(args);
    }

    /** The message of an exception on one line, with its type when the message is empty. */
    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        return m.replace('\n', ' ');
    }

    /** A usage problem found after parsing (for example a bad value combination): exit code 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"mla4j " + org.mla4j.NativeLibrary.apiVersion()};
        }
    }
}
