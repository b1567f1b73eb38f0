package org.mla4j.convert;

/** A conversion that cannot be done as asked: bad input, impossible options. The message names the problem. */
public final class ConversionException extends RuntimeException {
    /**
     * An exception with a message.
     *
     * @param message what is wrong, naming the file or option
     */
    public ConversionException(String message) {
        super(message);
    }

    /**
     * An exception with a message and its cause.
     *
     * @param message what is wrong, naming the file or option
     * @param cause   the exception that caused it
     */
    public ConversionException(String message, Throwable cause) {
        super(message, cause);
    }
}
