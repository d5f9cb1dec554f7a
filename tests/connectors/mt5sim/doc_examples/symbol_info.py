# ruff: noqa
# fmt: off
# Source: MetaQuotes' documentation of the MetaTrader5 Python package, example of symbol_info()
# (https://www.mql5.com/en/docs/python_metatrader5/mt5symbolinfo_py), as reproduced in the docstrings of the
# mt5linux 1.1.1 package (mt5linux/metatrader5.py). Unchanged but for one line:
# `import MetaTrader5 as mt5` became `import forexbot.connectors.mt5sim as mt5`.
import forexbot.connectors.mt5sim as mt5
# display data on the MetaTrader 5 package
print("MetaTrader5 package author: ",mt5.__author__)
print("MetaTrader5 package version: ",mt5.__version__)

# establish connection to the MetaTrader 5 terminal
if not mt5.initialize():
    print("initialize() failed, error code =",mt5.last_error())
    quit()

# attempt to enable the display of the EURJPY symbol in MarketWatch
selected=mt5.symbol_select("EURJPY",True)
if not selected:
    print("Failed to select EURJPY")
    mt5.shutdown()
    quit()

# display EURJPY symbol properties
symbol_info=mt5.symbol_info("EURJPY")
if symbol_info!=None:
    # display the terminal data 'as is'
    print(symbol_info)
    print("EURJPY: spread =",symbol_info.spread,"  digits =",symbol_info.digits)
    # display symbol properties as a list
    print("Show symbol_info(\"EURJPY\")._asdict():")
    symbol_info_dict = mt5.symbol_info("EURJPY")._asdict()
    for prop in symbol_info_dict:
        print("  {}={}".format(prop, symbol_info_dict[prop]))

# shut down connection to the MetaTrader 5 terminal
mt5.shutdown()
