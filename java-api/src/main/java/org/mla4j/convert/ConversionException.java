package org.mla4j.convert;

/** A conversion that cannot be done as asked: bad input, impossible options. The message names the problem. */
public final class ConversionException extends RuntimeException {
    public ConversionException(String message) {
        super(message);
    }

    public ConversionException(String message, Throwable cause) {
        super(message, cause);
    }
}
