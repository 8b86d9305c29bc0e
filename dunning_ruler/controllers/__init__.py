from . import portal
from . import statement
