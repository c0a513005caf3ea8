# Every body and query string the suite sends that the compiled
# validator passes is also validated by jsonschema: the two must agree.
from placement import util

util.CROSS_CHECK_VALIDATION = True
