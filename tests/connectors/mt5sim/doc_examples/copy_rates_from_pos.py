# ruff: noqa
# fmt: off
# Source: MetaQuotes' documentation of the MetaTrader5 Python package, example of copy_rates_from_pos()
# (https://www.mql5.com/en/docs/python_metatrader5/mt5copyratesfrompos_py), as reproduced in the docstrings of the
# mt5linux 1.1.1 package (mt5linux/metatrader5.py). Unchanged but for one line:
# `import MetaTrader5 as mt5` became `import forexbot.connectors.mt5sim as mt5`.
from datetime import datetime
import forexbot.connectors.mt5sim as mt5
# display data on the MetaTrader 5 package
print("MetaTrader5 package author: ",mt5.__author__)
print("MetaTrader5 package version: ",mt5.__version__)

# import the 'pandas' module for displaying data obtained in the tabular form
import pandas as pd
pd.set_option('display.max_columns', 500) # number of columns to be displayed
pd.set_option('display.width', 1500)      # max table width to display

# establish connection to MetaTrader 5 terminal
if not mt5.initialize():
    print("initialize() failed, error code =",mt5.last_error())
    quit()

# get 10 GBPUSD D1 bars from the current day
rates = mt5.copy_rates_from_pos("GBPUSD", mt5.TIMEFRAME_D1, 0, 10)

# shut down connection to the MetaTrader 5 terminal
mt5.shutdown()
# display each element of obtained data in a new line
print("Display obtained data 'as is'")
for rate in rates:
    print(rate)

# create DataFrame out of the obtained data
rates_frame = pd.DataFrame(rates)
# convert time in seconds into the datetime format
rates_frame['time']=pd.to_datetime(rates_frame['time'], unit='s')

# display data
print("\nDisplay dataframe with data")
print(rates_frame)
